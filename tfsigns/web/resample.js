// Pillow's resizing, written again in JavaScript to give the very same pixels, so that a photo the browser
// shrinks reaches the models as read.py's Pillow gives it (docs/export.md, "The reader in a browser").
// From Pillow's C (src/libImaging): Resample.c (the two-pass convolution, 22-bit fixed-point weights, each
// pass rounded to 8 bits), Reduce.c (the box average a resize with reducing_gap does first) and
// Geometry.c (the affine transform with bilinear sampling, which truncates), and Image.resize's choice
// of the reduction (Image.py, _get_safe_box). Its box is C float: JavaScript rounds it with Math.fround.
//
// A frame here is {data: Uint8Array of RGB, three bytes a pixel, row by row; width; height}.

const PRECISION_BITS = 22; // 32 - 8 - 2
const BICUBIC_SUPPORT = 2;

/** Pillow's bicubic kernel (a = -0.5). */
function bicubic(x) {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** The first and count of input pixels, and their fixed-point weights, of each output pixel of one
 * axis (precompute_coeffs, normalize_coeffs_8bpc). */
function coefficients(inSize, in0, in1, outSize) {
  in0 = Math.fround(in0);
  in1 = Math.fround(in1);
  const scale = Math.fround(in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const inverse = 1 / filterscale;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = bicubic((x + xmin - center + 0.5) * inverse);
      ww += k[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = (ww !== 0 ? k[x] / ww : k[x]) * (1 << PRECISION_BITS);
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w) : Math.trunc(0.5 + w);
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return {bounds, weights, ksize};
}

/** A fixed-point sum back to 8 bits (clip8). */
function clip8(sum) {
  const value = sum >> PRECISION_BITS;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

/** One pass of the convolution: each of `lines` lines (rows: a pixel's step is 3 and a line's stride a
 * row; columns: the reverse) resampled to outSize values, its input from `offset` on. */
function pass(input, inStep, inStride, output, outStep, outStride, lines, {bounds, weights, ksize}, outSize,
              offset) {
  const half = 1 << (PRECISION_BITS - 1);
  for (let line = 0; line < lines; line++) {
    for (let xx = 0; xx < outSize; xx++) {
      const first = bounds[2 * xx] + offset, count = bounds[2 * xx + 1];
      const start = line * inStride + first * inStep;
      for (let c = 0; c < 3; c++) {
        let sum = half;
        for (let x = 0; x < count; x++) sum += input[start + x * inStep + c] * weights[xx * ksize + x];
        output[line * outStride + xx * outStep + c] = clip8(sum);
      }
    }
  }
}

/** Pillow's Image.resize(size, BICUBIC, box) without reducing_gap (ImagingResample, Pillow 13): the box
 * [left, top, right, bottom] of the frame, in float pixels, resized to width x height, in two passes,
 * the vertical one first where the height shrinks by more than twice what the width does. */
export function resample(frame, width, height, box = [0, 0, frame.width, frame.height]) {
  const [x0, y0, x1, y1] = box;
  if (x0 === Math.trunc(x0) && y0 === Math.trunc(y0) && x1 - x0 === width && y1 - y0 === height) {
    return crop(frame, x0, y0, width, height); // what _resize does for a box of the output's size
  }
  const needHorizontal = width !== frame.width || x0 !== 0 || x1 !== width;
  const needVertical = height !== frame.height || y0 !== 0 || y1 !== height;
  const shrink = frame.height - height;
  const horizontalFirst = !(shrink > 0 && shrink > (frame.width - width) * 2);
  const vertical = coefficients(frame.height, y0, y1, height);
  const horizontal = coefficients(frame.width, x0, x1, width);
  let image = frame;
  const horizontalPass = (first, rows) => {
    const data = new Uint8Array(width * rows * 3);
    pass(image.data.subarray(first * image.width * 3), 3, image.width * 3, data, 3, width * 3, rows, horizontal,
         width, 0);
    image = {data, width, height: rows};
  };
  const verticalPass = offset => {
    const data = new Uint8Array(image.width * height * 3);
    pass(image.data, image.width * 3, 3, data, image.width * 3, 3, image.width, vertical, height, offset);
    image = {data, width: image.width, height};
  };
  if (horizontalFirst) {
    const first = vertical.bounds[0]; // the rows the vertical pass reads, only those resampled first
    if (needHorizontal) horizontalPass(first, vertical.bounds[2 * height - 2] + vertical.bounds[2 * height - 1] - first);
    if (needVertical) verticalPass(needHorizontal ? -first : 0);
  } else {
    if (needVertical) verticalPass(0);
    if (needHorizontal) horizontalPass(0, height);
  }
  return image === frame ? {...frame, data: frame.data.slice()} : image;
}

/** The frame's pixels from (x, y), width x height of them (ImagingCrop; inside the frame here). */
export function crop(frame, x, y, width, height) {
  const data = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const start = ((y + row) * frame.width + x) * 3;
    data.set(frame.data.subarray(start, start + width * 3), row * width * 3);
  }
  return {data, width, height};
}

/** Pillow's multiplier for an average of `count` values (division_UINT32: C float arithmetic). */
function multiplier(count) {
  return Math.trunc(Math.fround(Math.fround(2 ** 32) / Math.fround(256 * count)));
}

/** Pillow's Image.reduce((xscale, yscale), box): each xscale x yscale block of the box averaged, the
 * last row and column of blocks over what is left (ImagingReduce and ImagingReduceCorners). */
export function reduce(frame, xscale, yscale, [left, top, right, bottom]) {
  const boxWidth = right - left, boxHeight = bottom - top;
  const width = Math.ceil(boxWidth / xscale), height = Math.ceil(boxHeight / yscale);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const y0 = top + y * yscale, y1 = Math.min(y0 + yscale, top + boxHeight);
    for (let x = 0; x < width; x++) {
      const x0 = left + x * xscale, x1 = Math.min(x0 + xscale, left + boxWidth);
      const count = (x1 - x0) * (y1 - y0), times = multiplier(count), amend = Math.trunc(count / 2);
      for (let c = 0; c < 3; c++) {
        let sum = amend;
        for (let yy = y0; yy < y1; yy++) {
          for (let xx = x0; xx < x1; xx++) sum += frame.data[(yy * frame.width + xx) * 3 + c];
        }
        data[(y * width + x) * 3 + c] = Math.floor((sum * times) / 2 ** 24);
      }
    }
  }
  return {data, width, height};
}

/** Pillow's Image.resize((width, height), BICUBIC, box, reducing_gap): with a gap, the box is first
 * reduced by whole factors (over a box widened by the kernel's support), then resampled. */
export function resize(frame, width, height, box = [0, 0, frame.width, frame.height], reducingGap = null) {
  if (box[0] === 0 && box[1] === 0 && box[2] === frame.width && box[3] === frame.height &&
      width === frame.width && height === frame.height) {
    return {...frame, data: frame.data.slice()};
  }
  if (reducingGap !== null) {
    const factorX = Math.trunc((box[2] - box[0]) / width / reducingGap) || 1;
    const factorY = Math.trunc((box[3] - box[1]) / height / reducingGap) || 1;
    if (factorX > 1 || factorY > 1) {
      const support = BICUBIC_SUPPORT - 0.5; // _get_safe_box
      const supportX = support * ((box[2] - box[0]) / width), supportY = support * ((box[3] - box[1]) / height);
      const safe = [Math.max(0, Math.trunc(box[0] - supportX)), Math.max(0, Math.trunc(box[1] - supportY)),
                    Math.min(frame.width, Math.ceil(box[2] + supportX)),
                    Math.min(frame.height, Math.ceil(box[3] + supportY))];
      frame = reduce(frame, factorX, factorY, safe);
      box = [(box[0] - safe[0]) / factorX, (box[1] - safe[1]) / factorY,
             (box[2] - safe[0]) / factorX, (box[3] - safe[1]) / factorY];
    }
  }
  return resample(frame, width, height, box);
}

/** The size Image.thumbnail((longest, longest)) gives a width x height image (preserve_aspect_ratio),
 * or null when it already fits. */
export function thumbnailSize(width, height, longest) {
  if (longest >= width && longest >= height) return null;
  const aspect = width / height;
  const nearest = (value, error) => Math.max(
    error(Math.floor(value)) <= error(Math.ceil(value)) ? Math.floor(value) : Math.ceil(value), 1);
  if (1 >= aspect) { // as wide as high, or higher: the height is `longest`
    return [nearest(longest * aspect, n => Math.abs(aspect - n / longest)), longest];
  }
  return [longest, nearest(longest / aspect, n => (n === 0 ? 0 : Math.abs(aspect - longest / n)))];
}

/** Pillow's Image.transform((side, side), AFFINE, matrix, BILINEAR) of a frame: output pixel centre
 * (x + 0.5, y + 0.5) samples the frame at (a x + b y + c, d x + e y + f), bilinearly between its pixel
 * centres, edge pixels repeated within the frame and black outside it; each value truncated to 8 bits. */
export function affineBilinear(frame, side, [a, b, c, d, e, f]) {
  const {width, height, data} = frame;
  const out = new Uint8Array(side * side * 3);
  const clipX = x => (x < 0 ? 0 : x < width ? x : width - 1);
  const clipY = y => (y < 0 ? 0 : y < height ? y : height - 1);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      let xin = a * (x + 0.5) + b * (y + 0.5) + c;
      let yin = d * (x + 0.5) + e * (y + 0.5) + f;
      if (xin < 0 || xin >= width || yin < 0 || yin >= height) continue; // black
      xin -= 0.5;
      yin -= 0.5;
      const x0 = Math.floor(xin), y0 = Math.floor(yin), dx = xin - x0, dy = yin - y0;
      const left = clipX(x0) * 3, right = clipX(x0 + 1) * 3;
      const row = clipY(y0) * width * 3, below = y0 + 1 >= 0 && y0 + 1 < height ? (y0 + 1) * width * 3 : -1;
      for (let k = 0; k < 3; k++) {
        const top = data[row + left + k] + (data[row + right + k] - data[row + left + k]) * dx;
        const bottom = below < 0 ? top
          : data[below + left + k] + (data[below + right + k] - data[below + left + k]) * dx;
        out[(y * side + x) * 3 + k] = Math.trunc(top + (bottom - top) * dy);
      }
    }
  }
  return out;
}
