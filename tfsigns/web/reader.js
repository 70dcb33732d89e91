// The exported reader, run in the browser (portable/read.py's SignReader): reader.json checked, its models
// fetched from this folder and checked against their SHA-256, LiteRT.js runs them, and every photo or
// camera frame goes through reader.json's steps (photos.js, hands.js or framing.js, the classifier,
// answer.js). Nothing leaves the device. window.tfsigns.read(source) resolves to predict --json's object.

import {Signs} from "./answer.js";
import {loadContract, modelBytes} from "./contract.js";
import {frameHands} from "./framing.js";
import {features, HandModel, readHand} from "./hands.js";
import {pixelsOf, rgb, shrunk, squareColumn} from "./photos.js";
import * as runtime from "./runtime.js";

export const FOLDER = new URL("./", import.meta.url); // the reader's folder: reader.json, models, litert/

/** The name an answer gives a source, as predict --json gives a photo its path. */
export function nameOf(source) {
  if (typeof source === "string" || source instanceof URL) return String(source);
  if (typeof File !== "undefined" && source instanceof File) return source.name;
  return source?.getAttribute?.("src") || source?.id || source?.constructor?.name || "image";
}

export class SignReader {
  /** The reader in `folder`, on LiteRT.js's `build` (runtime.js): ReaderError (one line) when its files are
   * not those reader.json names, or LiteRT.js cannot run them. */
  static async load(folder = FOLDER, build = "auto") {
    const contract = await loadContract(folder);
    await runtime.startRuntime(folder, build);
    const {input, classifier, hand_models: handModels} = contract;
    const files = [[classifier.file, classifier.sha256, classifier.input.shape]];
    if (input.kind === "landmarks") {
      const [palm, landmark] = input.hand_model_files;
      const side = model => [1, model, model, 3];
      files.push([palm, handModels[palm], side(input.palm.input)],
                 [landmark, handModels[landmark], side(input.landmarks.input)]);
    }
    const bytes = await Promise.all(files.map(([name, sha256]) => modelBytes(folder, name, sha256)));
    const models = [];
    for (const [k, [name, , shape]] of files.entries()) models.push(await runtime.Model.load(bytes[k], name, shape));
    return new SignReader(contract, models);
  }

  constructor(contract, [classifier, palm, landmark]) {
    Object.assign(this, {contract, classifier, input: contract.input, queue: Promise.resolve()});
    this.build = runtime.running; // LiteRT.js's build: threads, simd or compat
    this.rule = Signs.of(contract); // what the outputs mean
    this.signs = this.rule.names; // the signs' names, in output order
    this.landmarks = this.input.kind === "landmarks";
    this.hands = this.landmarks ? new HandModel(palm, landmark, this.input) : null;
  }

  /** predict --json's object for an image source (pixelsOf's kinds), read on its own, as read.py reads a
   * photo file; ImageError (one line) when it cannot be read. */
  read(source, name = nameOf(source)) {
    return this.serial(async () => (await this.readFrame(rgb(await pixelsOf(source, name)), name)).answer);
  }

  /** One RGB frame read: the answer, and the hand (a landmark reader's, in the pixels of the frame as
   * read, width x height; null where it sees none) or the input the classifier took (a pixel reader's
   * size x size x 3 values in [0, 1]). With `track` (a camera's frames, in order) the previous frame's
   * hand gives the region first. */
  async readFrame(frame, name = "frame", track = false) {
    if (this.landmarks) {
      frame = shrunk(frame, this.input.frame_longest_side);
      const hand = await readHand(this.hands, frame, track);
      const probabilities = hand && await this.classify(features(hand, this.input.feature_unit_metres));
      return {answer: this.rule.asJson(name, probabilities, true), hand, width: frame.width, height: frame.height};
    }
    const square = squareColumn(frame, this.input.size);
    const input = this.input.framing === "hand" ? frameHands(square, this.input.size, this.input.framing_rule)
      : square;
    return {answer: this.rule.asJson(name, await this.classify(input), false), input};
  }

  /** The classifier's probabilities for one example (Float32Array of its input shape). */
  async classify(example) {
    return Object.values(await this.classifier.run(example))[0];
  }

  /** `job` run after every read before it, so that frames and photos never share the models at once. */
  serial(job) {
    const result = this.queue.then(job);
    this.queue = result.catch(() => {});
    return result;
  }
}

/** The reader of `folder`, loaded once, as window.tfsigns: {ready (the SignReader), read(source)}. */
export function start(folder = FOLDER, build = "auto") {
  if (!window.tfsigns) {
    const ready = SignReader.load(folder, build);
    window.tfsigns = {ready, read: async (source, name) => (await ready).read(source, name)};
  }
  return window.tfsigns.ready;
}
