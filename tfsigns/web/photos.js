// Photos and camera frames as read.py reads them (portable/photos.py), in a browser: any image source
// decoded to 8-bit RGB, upright by its EXIF orientation, its colours as the file gives them (no colour
// management, as Pillow does none), transparent pixels put on white with Pillow's own arithmetic, and
// shrunk or squared with Pillow's resizing (resample.js). The browser decodes: JPEG and PNG come out as
// Pillow's (both use libjpeg-turbo and zlib); docs/export.md says where a browser can differ.

import {ReaderError} from "./contract.js";
import {crop, resize, thumbnailSize} from "./resample.js";

export const MOST_PIXELS = 89478485; // Pillow's Image.MAX_IMAGE_PIXELS: larger is refused, as a bomb
// Safari's largest canvas (4096 x 4096): a larger photo is drawn smaller, by the browser, before it is read
export const CANVAS_PIXELS = 16777216;
const BACKGROUND = 255; // white shows through transparent pixels
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/** An image that cannot be read; the message names it. */
export class ImageError extends ReaderError {}

/** [width, height] from a PNG, JPEG or GIF file's header, before anything is decoded; null otherwise. */
export function headerSize(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 24 && view.getUint32(0) === 0x89504e47) return [view.getUint32(16), view.getUint32(20)];
  if (bytes.length >= 10 && view.getUint32(0) === 0x47494638) return [view.getUint16(6, true), view.getUint16(8, true)];
  if (bytes.length < 4 || view.getUint16(0) !== 0xffd8) return null;
  for (let at = 2; at + 9 < bytes.length;) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) { at += 1; continue; }
    if (SOF.has(marker)) return [view.getUint16(at + 7), view.getUint16(at + 5)];
    at += 2 + view.getUint16(at + 2);
  }
  return null;
}

/** The source's pixels, RGBA as a canvas gives them ({data, width, height}): a same-origin URL, a Blob or
 * File, an <img>, <video>, <canvas>, OffscreenCanvas, ImageBitmap, VideoFrame or ImageData. More than
 * mostPixels is refused (a file's from its header, before it is decoded); more than CANVAS_PIXELS is drawn
 * smaller first. ImageError (one line) when it cannot be read. */
export async function pixelsOf(source, name, mostPixels = MOST_PIXELS) {
  if (source instanceof ImageData) return source;
  if (typeof source === "string" || source instanceof URL) {
    const url = new URL(source, location.href);
    if (url.origin !== location.origin) throw new ImageError(`${name}: not on this page's origin (${location.origin})`);
    let response;
    try {
      response = await fetch(url);
    } catch (err) {
      throw new ImageError(`${name}: cannot be fetched (${err.message})`);
    }
    if (!response.ok) throw new ImageError(`${name}: ${response.status === 404 ? "file not found" : `HTTP ${response.status}`}`);
    source = await response.blob();
  }
  let drawn = source;
  if (source instanceof Blob) {
    if (!source.size) throw new ImageError(`${name}: is empty`);
    const size = headerSize(new Uint8Array(await source.slice(0, 1 << 16).arrayBuffer()));
    if (size && size[0] * size[1] > mostPixels) throw tooLarge(name, ...size, mostPixels);
    try {
      drawn = await createImageBitmap(source, {imageOrientation: "from-image", colorSpaceConversion: "none",
                                               premultiplyAlpha: "none"});
    } catch {
      throw new ImageError(`${name}: not a readable image`);
    }
  } else if (typeof HTMLImageElement !== "undefined" && source instanceof HTMLImageElement) {
    try {
      await source.decode();
    } catch {
      throw new ImageError(`${name}: not a readable image`);
    }
  }
  const width = drawn.naturalWidth ?? drawn.videoWidth ?? drawn.displayWidth ?? drawn.width;
  const height = drawn.naturalHeight ?? drawn.videoHeight ?? drawn.displayHeight ?? drawn.height;
  if (!width || !height) throw new ImageError(`${name}: has no pixels (${width}x${height})`);
  if (width * height > mostPixels) throw tooLarge(name, width, height, mostPixels);
  const scale = Math.min(1, Math.sqrt(CANVAS_PIXELS / (width * height)));
  const w = Math.max(1, Math.floor(width * scale)), h = Math.max(1, Math.floor(height * scale));
  const canvas = new OffscreenCanvas(w, h);
  const context = canvas.getContext("2d", {willReadFrequently: true});
  context.imageSmoothingQuality = "high";
  context.drawImage(drawn, 0, 0, w, h);
  if (drawn !== source) drawn.close();
  return context.getImageData(0, 0, w, h);
}

function tooLarge(name, width, height, most) {
  return new ImageError(`${name}: too many pixels (${width}x${height}; at most ${+(most / 1e6).toFixed(1)} million)`);
}

/** RGBA pixels as 8-bit RGB, transparent pixels composited on white as Pillow's alpha_composite does. */
export function rgb({data, width, height}) {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 4, j += 3) {
    const alpha = data[i + 3];
    for (let k = 0; k < 3; k++) {
      if (alpha === 255) {
        out[j + k] = data[i + k];
      } else { // AlphaComposite.c over opaque white: 7 bits of precision, divisions by 255 rounded
        const sum = (data[i + k] * alpha + BACKGROUND * (255 - alpha)) * 128 + (0x80 << 7);
        out[j + k] = ((sum >> 8) + sum) >> 8 >> 7;
      }
    }
  }
  return {data: out, width, height};
}

/** A frame shrunk to at most `longest` pixels on its long side, as Image.thumbnail(BICUBIC,
 * reducing_gap=3.0) shrinks it (photos.load_frame); the frame itself when it fits. */
export function shrunk(frame, longest) {
  const size = thumbnailSize(frame.width, frame.height, longest);
  return size ? resize(frame, size[0], size[1], [0, 0, frame.width, frame.height], 3.0) : frame;
}

/** A frame as load_image reads a photo: its largest centred square resized to size x size (Pillow,
 * bicubic, reducing_gap 3.0), / 255, as a Float32Array (rows, columns, RGB). */
export function squareColumn(frame, size) {
  const side = Math.min(frame.width, frame.height);
  const left = Math.trunc((frame.width - side) / 2), top = Math.trunc((frame.height - side) / 2);
  const square = resize(crop(frame, left, top, side, side), size, size, [0, 0, side, side], 3.0);
  return Float32Array.from(square.data, v => v / 255);
}
