// reader.json, checked as read.py checks it (portable/read.py, load_contract), and every model file it
// names fetched from this page's own folder and checked against its SHA-256 before any is run.

import {Signs} from "./answer.js";
import {VERSION} from "./hands.js";

export const FORMAT = "tfsigns-reader/2";
const FRAMINGS = ["none", "hand"];

/** A reader folder whose reader.json is missing or unusable, or whose files are not those it names;
 * also a browser that cannot run the reader. The message is one line, for the page. */
export class ReaderError extends Error {}

/** ReaderError where the browser runs no WebAssembly (none at all, or turned off), which LiteRT.js needs. */
export function needWebAssembly() {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
    throw new ReaderError("this browser runs no WebAssembly, which the reader needs: open the page in a " +
                          "current Chrome, Safari, Firefox or Edge, with WebAssembly not turned off");
  }
}

const number = value => typeof value === "number" && Number.isFinite(value);
const plainName = name => typeof name === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name);

/** Why the contract cannot be read, or null (the checks of load_contract, and the numbers this reader
 * uses where read.py has them in its code). */
function problem(contract) {
  const {input, classifier, hand_models: handModels} = contract;
  if (contract.format !== FORMAT) return `format ${JSON.stringify(contract.format)}; this page reads ${FORMAT}`;
  if (!input || !classifier || !handModels) return "it lacks input, classifier or hand_models";
  const signs = Signs.of(contract);
  if (!signs) return "its signs must be distinct names, its unknown output the one after them";
  const files = [classifier.file, ...Object.keys(handModels)];
  if (!files.every(plainName) || ![classifier.sha256, ...Object.values(handModels)].every(s => /^[0-9a-f]{64}$/.test(s))) {
    return "a file name that is not a plain name in its folder, or a SHA-256 that is not 64 hex digits";
  }
  let shape;
  if (input.kind === "landmarks") {
    if (input.features !== VERSION) return `features ${JSON.stringify(input.features)}; this page computes ${VERSION}`;
    const used = input.hand_model_files;
    if (!(number(input.presence_threshold) && input.presence_threshold >= 0 && input.presence_threshold <= 1) ||
        !Array.isArray(used) || used.length !== 2 || used[0] === used[1] || !used.every(name => name in handModels)) {
      return "its hand_model_files must be two of its hand_models, its presence_threshold within [0, 1]";
    }
    const {palm, landmarks, tracking} = input;
    const numbers = [palm?.input, palm?.threshold, palm?.nms_iou, palm?.region_scale, palm?.region_shift_y,
                     palm?.score_clip, palm?.anchors_per_layer, palm?.most_palms, ...(palm?.anchor_strides || [NaN]),
                     ...(palm?.rotation_keypoints || [NaN]), landmarks?.input, tracking?.scale, tracking?.shift_y,
                     input.whole_image_share, input.feature_unit_metres, input.min_side, input.frame_longest_side];
    if (!numbers.every(number) || !landmarks?.outputs) return "its hand pipeline's numbers are missing or not numbers";
    shape = [1, 42];
  } else if (input.kind === "pixels") {
    if (!(Number.isInteger(input.size) && input.size >= 1) || !FRAMINGS.includes(input.framing)) {
      return `its size must be a whole number, its framing one of ${FRAMINGS.join(", ")}`;
    }
    const rule = input.framing_rule;
    const numbers = ["mask_low", "mask_high", "plain", "edge_quantile", "margin", "hand_pixels"].map(k => rule?.[k]);
    if (input.framing === "hand" && !numbers.every(number)) return "its framing_rule's numbers are missing or not numbers";
    shape = [1, input.size, input.size, 3];
  } else {
    return `input kind ${JSON.stringify(input.kind)} is neither landmarks nor pixels`;
  }
  const shapes = JSON.stringify([classifier.input?.shape, classifier.output?.shape]);
  if (shapes !== JSON.stringify([shape, [1, signs.outputs]])) return `its classifier's shapes are not a ${input.kind} reader's of its signs`;
  return null;
}

/** The folder's reader.json (a URL ending in /), checked; ReaderError otherwise. */
export async function loadContract(folder) {
  let contract;
  try {
    const response = await fetch(new URL("reader.json", folder), {cache: "no-cache"});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    contract = await response.json();
  } catch (err) {
    throw new ReaderError(`reader.json: cannot be read (${err.message})`);
  }
  const why = contract && typeof contract === "object" ? problem(contract) : "not a JSON object";
  if (why) throw new ReaderError(`reader.json: ${why}`);
  return contract;
}

/** The bytes of a model file the contract names, fetched from the folder and checked against its SHA-256. */
export async function modelBytes(folder, name, sha256) {
  let bytes;
  try {
    const response = await fetch(new URL(name, folder));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    throw new ReaderError(`${name}: model file not found (${err.message})`);
  }
  if (await sha256Hex(bytes) !== sha256) throw new ReaderError(`${name}: not the file reader.json names (SHA-256 differs)`);
  return bytes;
}

/** The SHA-256 of bytes, in hex: the browser's (crypto.subtle), or, on a page that is no secure context
 * (plain http from another machine, where the browser has none), FIPS 180-4's, computed here. */
export async function sha256Hex(bytes) {
  const digest = globalThis.crypto?.subtle ? new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))
    : sha256(bytes);
  return Array.from(digest, b => b.toString(16).padStart(2, "0")).join("");
}

const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2]);

/** SHA-256 (FIPS 180-4) of bytes: the 32-byte digest. */
export function sha256(bytes) {
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bytes.length / 0x20000000));
  view.setUint32(padded.length - 4, (bytes.length * 8) >>> 0);
  const h = Uint32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                              0x5be0cd19]);
  const w = new Uint32Array(64), rotate = (x, n) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + 4 * t);
    for (let t = 16; t < 64; t++) {
      const s0 = rotate(w[t - 15], 7) ^ rotate(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotate(w[t - 2], 17) ^ rotate(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    let [a, b, c, d, e, f, g, k] = h;
    for (let t = 0; t < 64; t++) {
      const t1 = k + (rotate(e, 6) ^ rotate(e, 11) ^ rotate(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
      const t2 = (rotate(a, 2) ^ rotate(a, 13) ^ rotate(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      [k, g, f, e, d, c, b, a] = [g, f, e, (d + t1) >>> 0, c, b, a, (t1 + t2) >>> 0];
    }
    [a, b, c, d, e, f, g, k].forEach((v, i) => { h[i] += v; });
  }
  const out = new Uint8Array(32);
  h.forEach((v, i) => new DataView(out.buffer).setUint32(4 * i, v));
  return out;
}
