// Framing, for a pixel reader whose reader.json says framing "hand" (portable/framing.py, in JavaScript,
// by reader.json's input.framing_rule): the wall's colour from the border's median chromaticity, each
// pixel's handness, the wall made plain grey, and the square around the hand pixels (their quantiles,
// a margin) cropped with Pillow's bicubic resize. NumPy's float32 arithmetic is kept with Math.fround.

import {resample} from "./resample.js";

const f32 = Math.fround;

/** How much each pixel of an image (size x size x 3 float32 in [0, 1]) looks like a hand: Float32Array
 * (size x size) in [0, 1] (framing.handness). */
export function handness(image, size, {mask_low: low, mask_high: high}) {
  const pixels = size * size, chroma = new Float32Array(pixels * 3), tiny = f32(1 / 255);
  for (let p = 0; p < pixels; p++) {
    const x = [0, 1, 2].map(k => f32(image[3 * p + k] + tiny));
    const sum = f32(f32(x[0] + x[1]) + x[2]);
    for (let k = 0; k < 3; k++) chroma[3 * p + k] = f32(x[k] / sum);
  }
  const border = []; // top row, bottom row, left column, right column
  for (let i = 0; i < size; i++) border.push(i, (size - 1) * size + i);
  for (let i = 0; i < size; i++) border.push(i * size, i * size + size - 1);
  const ordered = [0, 1, 2].map(k => Float32Array.from(border, p => chroma[3 * p + k]).sort());
  const middle = ordered[0].length >> 1;
  const wall = ordered.map(values => (values.length % 2 ? values[middle]
    : f32(f32(values[middle - 1] + values[middle]) / 2)));
  const width = f32(high - low), out = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const distance = [0, 1, 2].map(k => Math.abs(f32(chroma[3 * p + k] - wall[k])))
      .reduce((sum, d) => f32(sum + d));
    out[p] = Math.min(Math.max(f32(f32(distance - f32(low)) / width), 0), 1);
  }
  return out;
}

/** NumPy's linear quantile of sorted whole numbers. */
function quantile(sorted, q) {
  const virtual = (sorted.length - 1) * q;
  if (virtual >= sorted.length - 1) return sorted[sorted.length - 1];
  const below = Math.floor(virtual), t = virtual - below, a = sorted[below], b = sorted[below + 1];
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

/** The square (centre row, centre column, side) around the hand pixels, or null when too few are hand
 * (framing.crop_box). */
export function cropBox(hand, size, {edge_quantile: edge, margin, hand_pixels: least}) {
  const rows = [], cols = [];
  hand.forEach((value, p) => {
    if (value > 0.5) {
      rows.push(Math.floor(p / size));
      cols.push(p % size);
    }
  });
  if (rows.length < least * hand.length) return null;
  cols.sort((a, b) => a - b);
  const [top, bottom] = [edge, 1 - edge].map(q => quantile(rows, q));
  const [left, right] = [edge, 1 - edge].map(q => quantile(cols, q));
  const side = Math.max(bottom - top, right - left) + 1;
  return [(top + bottom) / 2, (left + right) / 2, side * (1 + 2 * margin)];
}

/** NumPy's round (half to even) of a float32 value. */
function roundHalfEven(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 ? r - 1 : r;
}

/** An image (size x size x 3, Float32Array in [0, 1]) framed by reader.json's framing rule: its wall made
 * plain and the square around the hand cropped and resized back (framing.frame_hands). */
export function frameHands(image, size, rule) {
  const hand = handness(image, size, rule), plain = f32(rule.plain);
  const flat = image.map((v, i) => {
    const h = hand[Math.floor(i / 3)];
    return f32(f32(h * v) + f32(f32(1 - h) * plain));
  });
  const box = cropBox(hand, size, rule);
  if (!box) return flat;
  const [row, col, side] = box, pad = Math.ceil(side), padded = size + 2 * pad;
  const data = new Uint8Array(padded * padded * 3).fill(roundHalfEven(f32(plain * 255)));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size * 3; x++) {
      data[((y + pad) * padded + pad) * 3 + x] = roundHalfEven(f32(flat[y * size * 3 + x] * 255));
    }
  }
  const left = col - side / 2 + pad + 0.5, top = row - side / 2 + pad + 0.5;
  const square = resample({data, width: padded, height: padded}, size, size, [left, top, left + side, top + side]);
  return Float32Array.from(square.data, v => v / 255);
}
