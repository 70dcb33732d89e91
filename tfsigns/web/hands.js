// MediaPipe's hand pipeline on one frame, and the 42 numbers a landmark reader reads from it
// (portable/hands.py, in JavaScript, by reader.json's input): the frame letterboxed for the palm
// detector, the best palm's rotated region cropped for the landmark model, the whole frame tried too
// where the contract says, tiles where no palm is found, tracking for a camera's frames, the features.
// NumPy's float32 arithmetic is kept with Math.fround, so the models get the very inputs read.py gives.

import {anchors, decode, landmarksRect, palmRect, Rect, weightedNms} from "./palm.js";
import {affineBilinear, crop as cropFrame} from "./resample.js";

export const VERSION = "world-xy-wrist-dm/best-region/4"; // the features this module computes
const f32 = Math.fround;
const BYTE = f32(1 / 255);

/** The whole frame fitted into (side x side) RGB on black, bilinear (Pillow's affine transform), as
 * float32 in [0, 1]; with the scale and offset that map the square's pixels back to the frame's. */
export function letterbox(frame, side) {
  const long = Math.max(frame.width, frame.height), k = long / side;
  const offset = [(frame.width - long) / 2, (frame.height - long) / 2];
  const pixels = affineBilinear(frame, side, [k, 0, offset[0], 0, k, offset[1]]);
  return {square: pixels.reduce((out, v, i) => { out[i] = f32(v * BYTE); return out; },
                                new Float32Array(pixels.length)), k, offset};
}

/** A (side x side x 3) float32 crop in [0, 1] of a frame: crop pixel centre (u, v) samples the frame
 * bilinearly at matrix (u, v, 1), its edge pixels repeated outside it (hands.crop, in float32). */
export function crop({data, width, height}, matrix, side) {
  const [a, b, c, d, e, f] = matrix.map(f32);
  const c0 = f32(c - 0.5), f0 = f32(f - 0.5), xHigh = f32(width - 1.001), yHigh = f32(height - 1.001);
  const clip = (v, high) => (v < 0 ? 0 : v > high ? high : v);
  const out = new Float32Array(side * side * 3);
  for (let row = 0; row < side; row++) {
    const v = row + 0.5;
    for (let col = 0; col < side; col++) {
      const u = col + 0.5;
      const x = clip(f32(f32(f32(a * u) + f32(b * v)) + c0), xHigh);
      const y = clip(f32(f32(f32(d * u) + f32(e * v)) + f0), yHigh);
      const x0 = Math.trunc(x), y0 = Math.trunc(y), fx = f32(x - Math.floor(x)), fy = f32(y - Math.floor(y));
      const i = (y0 * width + x0) * 3;
      const right = (Math.min(x0 + 1, width - 1) - x0) * 3, below = (Math.min(y0 + 1, height - 1) - y0) * width * 3;
      for (let k = 0; k < 3; k++) {
        const p = data[i + k], q = data[i + right + k], r = data[i + below + k], s = data[i + below + right + k];
        const top = f32(p + f32((q - p) * fx)), bottom = f32(r + f32((s - r) * fx));
        out[(row * side + col) * 3 + k] = f32(f32(top + f32(f32(bottom - top) * fy)) * BYTE);
      }
    }
  }
  return out;
}

/** The palm detector and the landmark model (runtime.js Models), read by reader.json's input. */
export class HandModel {
  constructor(palmModel, landmarkModel, input) {
    Object.assign(this, {palmModel, landmarkModel, input, previous: null});
    this.threshold = input.presence_threshold;
    this.centres = anchors(input.palm);
  }

  /** The palms in a frame, best first, in frame pixels: [{box, keypoints, score}] (HandModel.palms). */
  async palms(frame) {
    const palm = this.input.palm;
    const {square, k, offset} = letterbox(frame, palm.input);
    const outputs = Object.values(await this.palmModel.run(square)).sort((p, q) => q.length - p.length);
    const found = weightedNms(decode(outputs[0], outputs[1], this.centres, palm), palm.nms_iou, palm.most_palms);
    const scale = v => f32(f32(f32(v) * palm.input) * f32(k));
    return found.map(({box, keypoints, score}) => ({
      box: box.map((v, i) => scale(v) + offset[i % 2]),
      keypoints: keypoints.map(([x, y]) => [scale(x) + offset[0], scale(y) + offset[1]]), score}));
  }

  /** What the landmark model sees in the region `rect` of a frame (HandModel.landmarks): landmarks
   * [[x, y, z] x 21] in frame pixels, world (63 float32, metres), presence, handedness, rect, palmScore. */
  async landmarks(frame, rect, palmScore = null) {
    const {input: side, outputs: names} = this.input.landmarks;
    const out = await this.landmarkModel.run(crop(frame, rect.cropMatrix(side), side));
    const screen = Array.from({length: 21}, (_, i) => [0, 1, 2].map(k => f32(out[names.screen][3 * i + k] / side)));
    const size = f32(rect.size);
    const pixels = rect.toImage(screen).map(([x, y], i) => [x, y, f32(screen[i][2] * size)]);
    return {landmarks: pixels, world: out[names.world], presence: out[names.presence][0],
            handedness: out[names.handedness][0], rect, palmScore};
  }
}

/** The 42 features (Float32Array) of a hand: world landmarks' x, y less the wrist's, in feature units. */
export function features(hand, unit) {
  const out = new Float32Array(42), step = f32(unit);
  for (let i = 0; i < 21; i++) {
    for (let k = 0; k < 2; k++) out[2 * i + k] = f32(f32(hand.world[3 * i + k] - hand.world[k]) / step);
  }
  return out;
}

/** The hand in a frame by best_hand, or null when the presence score stays below the threshold (or the
 * frame is under min_side pixels a side). With `track` (a camera's frames, in order) the previous frame's
 * landmarks give the region first, and the search runs only when they show no hand (hands.read_hand). */
export async function readHand(model, frame, track = false) {
  if (Math.min(frame.width, frame.height) < model.input.min_side) return null;
  let hand = track && model.previous ? await model.landmarks(frame, model.previous) : null;
  if (!hand || hand.presence < model.threshold) hand = await bestHand(model, frame);
  const found = hand !== null && hand.presence >= model.threshold;
  model.previous = track && found ? landmarksRect(hand.landmarks, model.input.tracking) : null;
  return found ? hand : null;
}

/** What the landmark model sees in the best region of a frame, hand or not: the best palm's region in the
 * whole frame, else (none found, or no hand seen there) the best palm's region of its square tiles; also
 * the whole frame where the first region covers whole_image_share of its long side or more or no region
 * shows a hand, and where no palm is found in a frame no larger than the detector's input; the one with
 * the higher presence score. null: no region to try (hands.best_hand). */
export async function bestHand(model, frame) {
  const {width: w, height: h} = frame, input = model.input, tried = [];
  for await (const palms of findPalms(model, frame)) {
    if (palms.length) tried.push(await model.landmarks(frame, palmRect(palms[0], input.palm), palms[0].score));
    if (tried.length && tried[tried.length - 1].presence >= model.threshold) break;
  }
  const closeUp = tried.length && tried[0].rect.size >= input.whole_image_share * Math.max(w, h);
  const small = Math.max(w, h) <= input.palm.input;
  const seen = tried.some(hand => hand.presence >= model.threshold);
  if ((tried.length && (!seen || closeUp)) || (!tried.length && small)) {
    tried.push(await model.landmarks(frame, new Rect(w / 2, h / 2, Math.max(w, h), 0)));
  }
  return tried.length ? tried.reduce((best, hand) => (hand.presence > best.presence ? hand : best)) : null;
}

/** The palms in a frame, best first, in the whole frame; then, where the frame is not square, in square
 * tiles of its short side along its long one, half overlapping: lazily, as bestHand asks (hands.find_palms). */
export async function* findPalms(model, frame) {
  yield await model.palms(frame);
  const {width: w, height: h} = frame, side = Math.min(w, h), long = Math.max(w, h);
  if (side === long) return;
  const tiles = Math.ceil((long - side) / (side / 2)) + 1, found = [];
  for (let t = 0; t < tiles; t++) {
    // np.linspace(0, long - side, tiles).astype(int): i * step, the last one exact
    const start = t === tiles - 1 ? long - side : Math.trunc(t * ((long - side) / (tiles - 1)));
    const [x, y] = w > h ? [start, 0] : [0, start];
    for (const palm of await model.palms(cropFrame(frame, x, y, side, side))) {
      found.push({box: palm.box.map((v, i) => v + (i % 2 ? y : x)),
                  keypoints: palm.keypoints.map(([px, py]) => [px + x, py + y]), score: palm.score});
    }
  }
  yield found.sort((a, b) => b.score - a.score);
}
