// The service worker of the export's page (VERSION, on the line above, is written by the export: a digest
// of every other file). It keeps each file of this origin the page fetches in a cache of that version,
// and answers from it first, so that after one visit the page reads with no network; a new export gets a
// new cache, and the old one is dropped.

const CACHE = `tfsigns-${VERSION}`;
const SHELL = ["./", "index.html", "app.js", "camera.js", "reader.js", "contract.js", "answer.js", "photos.js",
               "resample.js", "palm.js", "hands.js", "framing.js", "runtime.js", "reader.css", "reader.json",
               "manifest.webmanifest", "icon-192.png", "icon-512.png"];

self.addEventListener("install", event => {
  event.waitUntil(caches.open(CACHE).then(cache => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", event => {
  event.waitUntil(caches.keys()
    .then(keys => Promise.all(keys.filter(key => key.startsWith("tfsigns-") && key !== CACHE).map(key => caches.delete(key))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", event => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== location.origin) return;
  event.respondWith(caches.open(CACHE).then(async cache => {
    const kept = await cache.match(request, {ignoreSearch: true});
    if (kept) return kept;
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  }));
});

// the page's list of what it used: whatever is not kept yet (fetched before this worker ran) is kept now
self.addEventListener("message", event => {
  const urls = (event.data?.keep || []).filter(url => new URL(url).origin === location.origin);
  event.waitUntil(caches.open(CACHE).then(async cache => {
    let failed = 0;
    for (const url of urls) {
      if (!(await cache.match(url, {ignoreSearch: true}))) await cache.add(url).catch(() => { failed += 1; });
    }
    event.ports[0]?.postMessage({failed});
  }));
});
