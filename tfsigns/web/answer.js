// What the reader answers for a photo or a frame: predict --json's object (portable/read.py, as_json).

/** The answer for one image: its name, the class read and the class probabilities (float32, as read.py
 * prints them); for a landmark reader whether it saw a hand (when it saw none, probabilities is null and
 * class and probabilities are null). */
export function asJson(image, probabilities, landmarks) {
  if (landmarks && probabilities === null) return {image, class: null, hand: false, probabilities: null};
  const answer = {image, class: argmax(probabilities), probabilities: Array.from(probabilities)};
  return landmarks ? {...answer, hand: true} : answer;
}

/** The index of the first largest value (NumPy's argmax). */
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
