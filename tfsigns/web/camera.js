// The camera, read on the device as the live page reads it: each frame of the <video> goes through the
// reader (the hand tracked from frame to frame), and the page's elements show it: a steady answer in
// #answer ("unknown sign" for a hand that shows none of the reader's signs), the readings a second in #rate,
// the hand's landmarks over the video in #hand, the signs read so far in #sentence (an unknown sign left
// out). Both pages use it: the export's index.html and the served live page (page.html).

import {rgb} from "./photos.js";

export const STEADY_MS = 500; // a sign shows once read the same, confidently, for this long
export const CONFIDENT = 0.7;
const RATE_MS = 2000; // the readings a second: over this window
// the hand's bones between MediaPipe's 21 landmarks (0: the wrist; 1-4 the thumb, 5-8 the index, ..., 17-20 the little finger)
const BONES = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [5, 9], [9, 10], [10, 11], [11, 12],
               [9, 13], [13, 14], [14, 15], [15, 16], [13, 17], [17, 18], [18, 19], [19, 20], [0, 17]];

export const UNKNOWN = {}; // a reading of a hand that shows a sign the reader does not know

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/** The sign read steadily at `now` (its name, or UNKNOWN): the same one, confidently, in every reading of
 * the last STEADY_MS, and at least in the last two readings, so that a device that reads fewer than four
 * frames a second still shows a sign; or null. history: [{time, sign, p}], oldest first. */
export function steadySign(history, now) {
  let recent = history.filter(r => now - r.time <= STEADY_MS);
  if (recent.length < 2) recent = history.slice(-2);
  if (recent.length < 2 || now - history[0].time < STEADY_MS) return null;
  const sign = recent[0].sign;
  return recent.every(r => r.sign === sign && r.p >= CONFIDENT) ? sign : null;
}

/** The 21 landmarks ([x, y] in [0, 1] of the frame) and the bones drawn over the video, where it shows the
 * frame (contained in the element, centred); nothing where no hand is seen or the reader reads pixels. */
export function drawHand(overlay, video, landmarks) {
  const context = overlay.getContext("2d");
  context.clearRect(0, 0, overlay.width, overlay.height);
  if (!landmarks) return;
  const k = Math.min(overlay.width / video.videoWidth, overlay.height / video.videoHeight);
  const w = k * video.videoWidth, h = k * video.videoHeight;
  const at = ([x, y]) => [(overlay.width - w) / 2 + x * w, (overlay.height - h) / 2 + y * h];
  context.strokeStyle = "#2e2";
  context.lineWidth = 2;
  context.beginPath();
  for (const [a, b] of BONES) {
    context.moveTo(...at(landmarks[a]));
    context.lineTo(...at(landmarks[b]));
  }
  context.stroke();
  context.fillStyle = "#e22";
  for (const point of landmarks) {
    const [x, y] = at(point);
    context.fillRect(x - 2.5, y - 2.5, 5, 5);
  }
}

/** The camera read by a SignReader into the page's elements {video, overlay, answer, rate, sentence, ms
 * (optional)}; onReading({answer, landmarks, input}) after each reading, for what else a page shows. */
export class Camera {
  constructor(reader, elements, onReading = () => {}) {
    Object.assign(this, {reader, elements, onReading, history: [], times: [], lastSteady: null});
  }

  /** Forget the signs read so far. */
  clear() {
    this.elements.sentence.textContent = "";
    this.lastSteady = null;
  }

  /** Read frame after frame for as long as the page is open (not while it is hidden). */
  async run() {
    const {video} = this.elements;
    const canvas = new OffscreenCanvas(1, 1), context = canvas.getContext("2d", {willReadFrequently: true});
    for (;;) {
      if (!video.videoWidth || document.hidden) {
        await sleep(100);
        continue;
      }
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0);
      const frame = rgb(context.getImageData(0, 0, canvas.width, canvas.height));
      const started = performance.now();
      const read = await this.reader.serial(() => this.reader.readFrame(frame, "camera", true));
      this.show(read, started, performance.now());
      await sleep(0); // let the page draw
    }
  }

  /** One reading shown: the hand drawn, the steady answer, the rate, the sentence (a one-character sign
   * after a digit joins it, as digits make a number; other signs are words). */
  show({answer, hand, width, height, input}, started, now) {
    const {overlay, video, rate, ms, sentence} = this.elements, seen = answer.hand !== false;
    const unknown = answer.class === null;
    this.history.push({time: now, sign: !seen ? null : unknown ? UNKNOWN : answer.sign,
                       p: !seen ? 0 : unknown ? 1 : answer.probabilities[answer.class]});
    this.history = this.history.filter(r => now - r.time <= 4 * STEADY_MS);
    this.times.push({time: now, ms: now - started});
    this.times = this.times.filter(r => now - r.time <= RATE_MS);
    rate.textContent = (this.times.length / (RATE_MS / 1000)).toFixed(1);
    if (ms) ms.textContent = (this.times.reduce((sum, r) => sum + r.ms, 0) / this.times.length).toFixed(0);
    const landmarks = hand ? hand.landmarks.map(([x, y]) => [x / width, y / height]) : null;
    drawHand(overlay, video, landmarks);
    const sign = seen ? steadySign(this.history, now) : null, word = sign !== null && sign !== UNKNOWN;
    this.elements.answer.textContent = !seen ? "no hand" : sign === null ? "not sure" : word ? sign : "unknown sign";
    this.elements.answer.className = word ? "" : "unsure";
    if (word && sign !== this.lastSteady) {
      const joined = sign.length === 1 && /^[0-9]*$/.test(sentence.textContent.slice(-1));
      sentence.textContent += joined ? sign : ` ${sign}`;
    }
    if (sign !== null) this.lastSteady = sign;
    this.onReading({answer, landmarks, input});
  }
}

/** The user's camera on the video element; an Error with one line for the page when there is none. */
export async function openCamera(video) {
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    throw new Error(`no camera: a browser opens the camera only for a page that comes over https or from ` +
                    `this device (localhost), and this one comes over plain http from ${location.host}; read a photo instead`);
  }
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: {facingMode: "user"}, audio: false});
  } catch (err) {
    const refused = err.name === "NotAllowedError" || err.name === "SecurityError";
    throw new Error(refused ? "no camera: it was refused; allow the camera for this page in the browser's site settings " +
                              "and reload, or read a photo instead"
                            : `no camera: ${err.message || err.name}; read a photo instead`);
  }
}

/** One line for a photo's answer: its sign and how sure, "not sure", "a sign it does not know", or "no hand". */
export function describe(answer) {
  if (answer.hand === false) return `${answer.image}: no hand`;
  if (answer.class === null) return `${answer.image}: a sign it does not know`;
  const p = answer.probabilities[answer.class];
  return p >= CONFIDENT ? `${answer.image}: ${answer.sign} (p = ${p.toFixed(2)})`
                        : `${answer.image}: not sure (${answer.sign} at p = ${p.toFixed(2)})`;
}
