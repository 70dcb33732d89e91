// reader.json, checked as read.py checks it (portable/read.py, load_contract), and every model file it
// names fetched from this page's own folder and checked against its SHA-256 before any is run.

import {VERSION} from "./hands.js";

export const FORMAT = "tfsigns-reader/1";
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
  const {input, classifier, classes, hand_models: handModels} = contract;
  if (contract.format !== FORMAT) return `format ${JSON.stringify(contract.format)}; this page reads ${FORMAT}`;
  if (!input || !classifier || !Array.isArray(classes) || !handModels) return "it lacks input, classifier, classes or hand_models";
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
  if (shapes !== JSON.stringify([shape, [1, classes.length]])) return `its classifier's shapes are not a ${input.kind} reader's of its classes`;
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
  if (!crypto.subtle) throw new ReaderError("this page must come over https or from localhost (a secure context) to check its models");
  const digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
                            b => b.toString(16).padStart(2, "0")).join("");
  if (digest !== sha256) throw new ReaderError(`${name}: not the file reader.json names (SHA-256 differs)`);
  return bytes;
}
