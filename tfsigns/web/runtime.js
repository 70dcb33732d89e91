// LiteRT.js (npm's @litertjs/core, Apache-2.0), the TensorFlow Lite runtime compiled to WebAssembly, loaded
// once from this folder's litert/: by default its threaded build where the page is cross-origin isolated
// (its server sends COOP and COEP, as tfsigns.serve does) and the device has cores to spare, else its build
// with relaxed SIMD where the browser has it, the compatible one elsewhere (as LiteRT.js chooses). A page may
// name a build (?litert=simd, compat or threads), as bench/page_speed.py does to measure them. A Model
// runs one .tflite file on float32 inputs and gives its outputs by name.

import {loadAndCompile, loadLiteRt, supportsFeature, Tensor} from "./litert/core/index.js";
import {needWebAssembly, ReaderError} from "./contract.js";

let started = null;
export const BUILDS = {simd: "litert_wasm_internal.js", compat: "litert_wasm_compat_internal.js",
                       threads: "litert_wasm_threaded_internal.js"};
export let running = null; // the build LiteRT.js runs, a name of BUILDS

/** LiteRT.js loaded from the folder's litert/wasm/, once: the build BUILDS names, or by default ("auto") the
 * threaded one where it can run, else LiteRT.js's choice; ReaderError where the browser runs no
 * WebAssembly, or no build starts. */
export function startRuntime(folder, build = "auto") {
  needWebAssembly();
  const load = async name => {
    name = name in BUILDS ? name : (await supportsFeature("relaxedSimd")).supported ? "simd" : "compat";
    await loadLiteRt(new URL(`litert/wasm/${BUILDS[name]}`, folder).href, {threads: name === "threads"});
    running = name;
  };
  const threads = build === "auto" && self.crossOriginIsolated === true && (navigator.hardwareConcurrency ?? 1) > 1;
  started ??= (threads ? load("threads").catch(() => load("auto")) : load(build)).catch(err => {
    started = null;
    throw new ReaderError(`LiteRT.js could not start (${err.message})`);
  });
  return started;
}

/** A compiled .tflite model and the input shape it takes. */
export class Model {
  constructor(compiled, shape) {
    Object.assign(this, {compiled, shape});
    this.names = compiled.getOutputDetails().map(d => d.name);
  }

  /** The model in `bytes`, compiled for the CPU (XNNPACK in WebAssembly); ReaderError when it is no model
   * LiteRT.js runs or does not take `shape`. */
  static async load(bytes, name, shape) {
    let compiled;
    try {
      compiled = await loadAndCompile(bytes, {accelerator: "wasm"});
    } catch (err) {
      throw new ReaderError(`${name}: not a TensorFlow Lite model LiteRT.js can run (${err.message})`);
    }
    const taken = Array.from(compiled.getInputDetails()[0].shape);
    if (JSON.stringify(taken) !== JSON.stringify(shape)) {
      compiled.delete();
      throw new ReaderError(`${name}: takes [${taken}], not [${shape}] as reader.json says`);
    }
    return new Model(compiled, shape);
  }

  /** The outputs {name: Float32Array} for one input (a Float32Array of the model's input shape). */
  async run(input) {
    const tensor = new Tensor(input, this.shape);
    try {
      const outputs = await this.compiled.run(tensor);
      const named = {};
      outputs.forEach((output, i) => {
        named[this.names[i]] = output.toTypedArray().slice();
        output.delete();
      });
      return named;
    } finally {
      tensor.delete();
    }
  }
}
