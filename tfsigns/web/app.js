// The export's page (index.html): the reader loaded from this folder, the camera read, a photo read on
// request, and the service worker (sw.js) that keeps every file the page used, so that it reads offline
// after one visit. Any failure is one line in #status; the page never waits on something that failed.

import {Camera, describe, openCamera} from "./camera.js";
import {needWebAssembly} from "./contract.js";

const $ = id => document.getElementById(id);
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function say(message, error = false) {
  $("status").textContent = message;
  $("status").className = error ? "note error" : "note";
}

/** The service worker, controlling this page before the reader's files are fetched (a few seconds at most),
 * so that the first visit's files pass through its cache. false where the browser has none. */
async function offlineWorker() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return false;
  await navigator.serviceWorker.register("sw.js");
  if (!navigator.serviceWorker.controller) {
    await Promise.race([sleep(3000), new Promise(resolve =>
      navigator.serviceWorker.addEventListener("controllerchange", resolve, {once: true}))]);
  }
  return true;
}

/** Every file of this origin the page used, kept by the service worker; then body[data-offline="ready"]. */
async function keepUsed() {
  const worker = (await navigator.serviceWorker.ready).active;
  const used = [location.href.split("#")[0], ...performance.getEntriesByType("resource").map(entry => entry.name)]
    .filter(url => new URL(url).origin === location.origin);
  const channel = new MessageChannel();
  const kept = new Promise(resolve => { channel.port1.onmessage = event => resolve(event.data); });
  worker.postMessage({keep: used}, [channel.port2]);
  const {failed} = await kept;
  document.body.dataset.offline = failed ? "failed" : "ready";
}

async function main() {
  let worker = false;
  try {
    worker = await offlineWorker();
  } catch (err) {
    console.warn(`no offline copy: ${err.message}`);
  }
  let reader;
  try {
    needWebAssembly(); // before LiteRT.js's module is even loaded
    const {start} = await import("./reader.js");
    reader = await start(undefined, new URLSearchParams(location.search).get("litert") || "auto");
  } catch (err) {
    say(err.message, true);
    document.body.dataset.state = "failed";
    return;
  }
  document.body.dataset.state = "ready";
  $("signs").textContent = reader.signs.join(", ");
  const accuracy = reader.contract.test_accuracy;
  say(`ready: reads ${reader.signs.length} signs (${reader.input.kind} reader` +
      `${typeof accuracy === "number" ? `, test accuracy ${accuracy.toFixed(3)}` : ""}), on this device ` +
      `(LiteRT.js ${reader.build})`);
  if (worker) keepUsed().catch(err => console.warn(`no offline copy: ${err.message}`));
  $("upload").onchange = async event => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      $("uploaded").textContent = describe(await reader.read(file));
    } catch (err) {
      $("uploaded").textContent = err.message;
    }
  };
  try {
    await openCamera($("camera"));
  } catch (err) {
    say(err.message, true);
    return;
  }
  say("reading the camera");
  const camera = new Camera(reader, {video: $("camera"), overlay: $("hand"), answer: $("answer"), rate: $("rate"),
                                     ms: $("ms"), sentence: $("sentence")});
  $("clear").onclick = () => camera.clear();
  camera.run().catch(err => say(`the camera's reading stopped: ${err.message}`, true));
}

main();
