// What the reader answers for a photo or a frame: predict --json's object (portable/read.py, Signs): the sign
// read, by its name in reader.json's "signs", or "a sign I don't know" where the reader has that output
// ("unknown") and its probability reaches reader.json's threshold, or no hand.

/** What a reader's outputs mean (read.py's Signs): the names of its signs, in output order, the output
 * that means "a sign I don't know" (after the signs) or null where the reader has none, and the
 * probability of it from which the reader answers so. */
export class Signs {
  constructor(names, unknown = null, threshold = 0.5) {
    Object.assign(this, {names, unknown, threshold});
  }

  /** The signs reader.json records ("signs", "unknown": {"output", "threshold"}); null where they do not
   * fit together. */
  static of(contract) {
    const {signs: names, unknown} = contract, output = unknown?.output ?? null;
    const threshold = unknown?.threshold ?? 0.5;
    const named = Array.isArray(names) && names.length && names.every(n => typeof n === "string" && n) &&
      new Set(names).size === names.length;
    const fits = output === null || (output === names.length && typeof threshold === "number" &&
      threshold > 0 && threshold <= 1);
    return named && fits ? new Signs(names, output, threshold) : null;
  }

  /** The classifier's outputs: a probability per sign, and the unknown sign's where there is one. */
  get outputs() {
    return this.names.length + (this.unknown === null ? 0 : 1);
  }

  /** The sign read from the outputs' probabilities: null (the unknown sign) where the unknown output is at
   * least the threshold, else the index of the most probable sign. */
  read(probabilities) {
    if (this.unknown !== null && probabilities[this.unknown] >= this.threshold) return null;
    return argmax(probabilities.subarray(0, this.names.length));
  }

  /** The answer for one image (Signs.as_json): its name, the class read and its sign, the signs'
   * probabilities (float32, as read.py prints them) and the unknown sign's where the reader has one; a
   * landmark reader adds whether it saw a hand (none: probabilities null; a hand that shows none of its
   * signs: class and sign null, hand true). */
  asJson(image, probabilities, landmarks) {
    if (landmarks && probabilities === null) {
      return {image, class: null, sign: null, hand: false, probabilities: null};
    }
    const read = this.read(probabilities);
    const answer = {image, class: read, sign: read === null ? null : this.names[read],
                    probabilities: Array.from(probabilities.subarray(0, this.names.length))};
    if (this.unknown !== null) answer.unknown = probabilities[this.unknown];
    return landmarks ? {...answer, hand: true} : answer;
  }
}

/** The index of the first largest value (NumPy's argmax). */
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
