// The palm detector's geometry (portable/palm.py, in JavaScript): its SSD anchors, the decoding of its raw
// boxes and 7 keypoints, weighted non-maximum suppression, and the rotated square regions the landmark
// model reads, from a palm or from the previous frame's landmarks. Every number comes from reader.json's
// input.palm and input.tracking. Where NumPy computes in float32, so does this (Math.fround), so that
// the boxes agree with read.py's to float32's rounding.

const f32 = Math.fround;

/** A rotated square region of a frame, in pixels: centre, side, rotation (radians, clockwise on screen;
 * 0 when the fingers point up) (palm.Rect). */
export class Rect {
  constructor(x, y, size, rotation) {
    Object.assign(this, {x, y, size, rotation});
  }

  /** Points [[u, v], ...] in [0, 1] across the region, in frame pixels (Rect.to_image): float32, as NumPy
   * computes it with this region's numbers (Python floats) taken as float32. */
  toImage(points) {
    const [x, y, size, c, s] = [this.x, this.y, this.size, Math.cos(this.rotation), Math.sin(this.rotation)].map(f32);
    return points.map(([u, v]) => {
      const lx = f32(f32(u - 0.5) * size), ly = f32(f32(v - 0.5) * size);
      return [f32(f32(x + f32(c * lx)) - f32(s * ly)), f32(f32(y + f32(s * lx)) + f32(c * ly))];
    });
  }

  /** The affine map [a, b, c, d, e, f] from a (side x side) crop's continuous coordinates (u, v) to the
   * frame's: x = a u + b v + c, y = d u + e v + f (Rect.crop_matrix). */
  cropMatrix(side) {
    const c = Math.cos(this.rotation), s = Math.sin(this.rotation), k = this.size / side, half = this.size / 2;
    return [c * k, -s * k, this.x - c * half + s * half, s * k, c * k, this.y - s * half - c * half];
  }
}

/** The detector's anchor centres, Float32Array [x0, y0, x1, y1, ...] in [0, 1] of its input: per stride's
 * feature map row by row, anchors_per_layer for each layer that shares the stride (palm.anchors). */
export function anchors({input, anchor_strides: strides, anchors_per_layer: perLayer}) {
  const centres = [];
  for (const stride of [...new Set(strides)].sort((a, b) => a - b)) {
    const perCell = perLayer * strides.filter(s => s === stride).length;
    const side = Math.ceil(input / stride);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        for (let k = 0; k < perCell; k++) centres.push((x + 0.5) / side, (y + 0.5) / side);
      }
    }
  }
  return Float32Array.from(centres);
}

/** The detections whose score reaches the threshold, in [0, 1] of the detector's input: [{box: [x_min,
 * y_min, x_max, y_max], keypoints: [[x, y] x 7], score}], in anchor order; rawBoxes (n * 18) and rawScores
 * (n) as the model gives them (palm.decode). */
export function decode(rawBoxes, rawScores, centres, {input, threshold, score_clip: clip}) {
  const found = [];
  for (let i = 0; i < rawScores.length; i++) {
    const logit = Math.min(Math.max(rawScores[i], -clip), clip);
    const score = f32(1 / f32(1 + f32(Math.exp(-logit))));
    if (score < threshold) continue;
    const raw = k => f32(rawBoxes[i * 18 + k] / input);
    const cx = centres[2 * i], cy = centres[2 * i + 1];
    const x = f32(raw(0) + cx), y = f32(raw(1) + cy), halfW = f32(raw(2) / 2), halfH = f32(raw(3) / 2);
    const keypoints = [];
    for (let k = 0; k < 7; k++) keypoints.push([f32(raw(4 + 2 * k) + cx), f32(raw(5 + 2 * k) + cy)]);
    found.push({box: [f32(x - halfW), f32(y - halfH), f32(x + halfW), f32(y + halfH)], keypoints, score});
  }
  return found;
}

/** Intersection over union of two boxes (palm.iou). */
export function iou(a, b) {
  const area = box => Math.max(box[2] - box[0], 0) * Math.max(box[3] - box[1], 0);
  const inter = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0) *
                Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / Math.max(union, 1e-12) : 0;
}

/** At most `limit` detections, best first: each the score-weighted mean of the boxes and keypoints that
 * overlap the best remaining one by more than nmsIou, with that one's score (palm.weighted_nms). */
export function weightedNms(detections, nmsIou, limit) {
  let left = [...detections].sort((a, b) => b.score - a.score); // stable, as NumPy's argsort(kind="stable")
  const found = [];
  while (left.length && found.length < limit) {
    const best = left[0];
    const cluster = left.filter((d, i) => i === 0 || iou(best.box, d.box) > nmsIou);
    const total = cluster.reduce((sum, d) => f32(sum + d.score), 0);
    const weights = cluster.map(d => f32(d.score / total));
    const mean = pick => pick(cluster[0]).map((_, k) =>
      f32(cluster.reduce((sum, d, j) => sum + weights[j] * pick(d)[k], 0)));
    found.push({box: mean(d => d.box), keypoints: mean(d => d.keypoints.flat()), score: best.score});
    left = left.filter((d, i) => !(i === 0 || iou(best.box, d.box) > nmsIou));
  }
  return found.map(({box, keypoints, score}) => ({
    box, keypoints: Array.from({length: 7}, (_, k) => [keypoints[2 * k], keypoints[2 * k + 1]]), score}));
}

/** The region's rotation that turns the vector start -> end (frame pixels) to point up (palm.rotation). */
export function rotation(start, end) {
  const angle = Math.PI / 2 - Math.atan2(-(end[1] - start[1]), end[0] - start[0]);
  return angle - 2 * Math.PI * Math.floor((angle + Math.PI) / (2 * Math.PI));
}

/** RectTransformationCalculator with square_long (palm.transformed). */
export function transformed(x, y, width, height, angle, scale, shiftY) {
  x -= shiftY * height * Math.sin(angle);
  y += shiftY * height * Math.cos(angle);
  return new Rect(x, y, Math.max(width, height) * scale, angle);
}

/** The landmark model's region for a palm in frame pixels (palm.palm_rect). */
export function palmRect({box: [x0, y0, x1, y1], keypoints}, {rotation_keypoints: [from, to], region_scale: scale,
                                                               region_shift_y: shiftY}) {
  const angle = rotation(keypoints[from], keypoints[to]);
  return transformed((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0, angle, scale, shiftY);
}

/** The next frame's region from this frame's 21 landmarks [[x, y, ...], ...] in pixels
 * (palm.landmarks_rect): turned from the wrist to the finger bases, their box in that turn, scaled. */
export function landmarksRect(points, {scale, shift_y: shiftY}) {
  const bases = [0, 1].map(k => ((points[5][k] + points[13][k]) / 2 + points[9][k]) / 2);
  const angle = rotation(points[0], bases);
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  const centre = [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
  let c = Math.cos(-angle), s = Math.sin(-angle);
  const turned = points.map(([x, y]) => [(x - centre[0]) * c - (y - centre[1]) * s,
                                          (x - centre[0]) * s + (y - centre[1]) * c]);
  const tx = turned.map(p => p[0]), ty = turned.map(p => p[1]);
  const low = [Math.min(...tx), Math.min(...ty)], high = [Math.max(...tx), Math.max(...ty)];
  const mid = [(low[0] + high[0]) / 2, (low[1] + high[1]) / 2];
  c = Math.cos(angle);
  s = Math.sin(angle);
  return transformed(centre[0] + c * mid[0] - s * mid[1], centre[1] + s * mid[0] + c * mid[1],
                     high[0] - low[0], high[1] - low[1], angle, scale, shiftY);
}
