"""The web reader's speed in headless Chromium (an export's page, served as `python -m http.server` serves it;
the live page runs the same reader): readings a second from a fake camera playing a 640x480 cluttered scene
(a hand held still, the hand moving across it as the tests play it, the empty scene), and milliseconds per
photo through window.tfsigns.read, for each of LiteRT.js's WebAssembly builds, taking turns; beside them,
read.py's milliseconds per photo on the same photos, in this process.

    python -m bench.page_speed --reader runs/reader-export [--reader OTHER-EXPORT] [--seconds 6] [--rounds 2]

The builds: "simd" (relaxed SIMD, one thread: what the page loads where the browser has relaxed SIMD and
the page is not cross-origin isolated, as under `python -m http.server`), "compat" (no relaxed SIMD: what
it loads where the browser lacks it) and "threads" (relaxed SIMD and threads: what it loads where its server
sends COOP and COEP, as tfsigns.serve does; the bench's server sends them to every build). Each --reader (a
lite hand model's export, say) is measured the same way. Needs Debian's chromium and chromium-driver
(tests/browser.py) and an export made after `make web`.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from tests.browser import browser, wait_for, y4m
from tfsigns.images.scenes import paste, scene
from tfsigns.images.signs import load_dataset
from tfsigns.portable.photos import load_frame
from tfsigns.portable.read import SignReader
from tfsigns.reader.web import ISOLATED

ROOM = 7
BUILDS = ("simd", "compat", "threads")
VIDEOS = ("hand held still", "hand moving", "empty scene")
# the median ms of window.tfsigns.read over the photos (arguments[0]), after one read to warm it
PHOTO_MS = """const done = arguments[1];
(async () => { const reader = await window.tfsigns.ready, times = [];
  await reader.read(arguments[0][0]);
  for (const url of arguments[0]) {
    const t = performance.now();
    await reader.read(url);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b); return times[times.length >> 1]; })().then(done);"""


class Isolated(http.server.SimpleHTTPRequestHandler):
    """A static server whose pages are cross-origin isolated (SharedArrayBuffer, so threads)."""

    def end_headers(self):
        for name, value in ISOLATED.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, *args):
        pass


def videos(data_dir: str | None) -> dict[str, list[np.ndarray]]:
    """The fake camera's videos, 640x480 frames: a SIGNS 3 held still, moving left to right, none."""
    photos, labels = load_dataset(data_dir)[2:4]
    three = photos[int(np.flatnonzero(labels.reshape(-1) == 3)[0])]
    path = [(t, 0.2 + 0.6 * t) for t in np.linspace(0, 1, 40)]
    return dict(zip(VIDEOS, ([paste(three, ROOM, at=(0.5, 0.4))[0]] * 20,
                             [paste(three, ROOM, at=at)[0] for at in path], [scene(ROOM)] * 20), strict=True))


def measure(url: str, video: Path | None, seconds: float, photos: list[str] = ()) -> dict:
    """One build's readings a second on a video (median and best of #rate over `seconds`, after the reader
    is ready in `load` seconds), or with no video (the camera refused), its median ms per photo."""
    refused = () if video else ("--deny-permission-prompts",)
    page = browser("/usr/bin/chromium", "/usr/bin/chromedriver", video, refused)
    try:
        started = time.monotonic()
        page.get(url)
        wait_for(lambda: page.execute_script("return document.body.dataset.state"), 120, "the reader")
        state = page.execute_script("return document.body.dataset.state")
        if state != "ready":
            return {"error": page.find_element("id", "status").text}
        load = time.monotonic() - started
        if not video:
            return {"photo_ms": page.execute_async_script(PHOTO_MS, photos), "load": load}
        wait_for(lambda: float(page.find_element("id", "rate").text) > 0, 60, "a reading")
        time.sleep(2.5)  # the rate's window filled
        rates = []
        for _ in range(int(seconds / 0.5)):
            rates.append(float(page.find_element("id", "rate").text))
            time.sleep(0.5)
        return {"rate": statistics.median(rates), "best": max(rates), "load": load}
    finally:
        page.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reader", action="append", required=True,
                        help="an export (python -m tfsigns.export); again for another")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long each video's rate is sampled")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--photos", default="../shared/data/otherhands", help="a folder per sign of photos")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    picked = sorted(Path(args.photos).glob("[0-5]/*"))[::20]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for video_name, frames in videos(args.data_dir).items():
            y4m(frames, tmp / f"{video_name}.y4m")
        for reader_dir in map(Path, args.reader):
            folder = tmp / reader_dir.name  # the export's page, and photos beside it
            shutil.copytree(reader_dir / "web", folder)
            shutil.copytree(Path(args.photos), folder / "photos")
            photos = [f"photos/{p.relative_to(args.photos)}" for p in picked]
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Isolated,
                                                                                        directory=str(folder)))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_port}/"
            python = SignReader(reader_dir)
            frames = [load_frame(p) for p in picked]
            python.read(frames[0])
            results: dict[tuple[str, str], list[dict]] = {}
            for _ in range(args.rounds):
                for build in BUILDS:
                    for video_name in VIDEOS:
                        result = measure(f"{url}?litert={build}", tmp / f"{video_name}.y4m", args.seconds)
                        results.setdefault((build, video_name), []).append(result)
                    results.setdefault((build, "photos"), []).append(measure(f"{url}?litert={build}", None, 0,
                                                                             photos))
                started = time.perf_counter()
                for frame in frames:
                    python.read(frame)
                results.setdefault(("read.py", "photos"), []).append(
                    {"photo_ms": (time.perf_counter() - started) / len(frames) * 1000})
            server.shutdown()
            report(reader_dir, results, len(picked))


def report(reader_dir: Path, results: dict, photos: int) -> None:
    """The medians over rounds, and each build's ratio to the simd build."""
    print(f"\n{reader_dir} (Chromium headless; medians over rounds; photos: {photos} other hands, 100x100)")
    base = {}
    for (build, video), runs in results.items():
        if any("error" in r for r in runs):
            print(f"  {build:8s} {video:16s} failed: {runs[0].get('error')}")
            continue
        line = f"  {build:8s} {video:16s}"
        if "rate" in runs[0]:
            rate = statistics.median(r["rate"] for r in runs)
            base.setdefault(video, rate if build == "simd" else None)
            ratio = rate / base[video] if base.get(video) else float("nan")
            best = max(r["best"] for r in runs)
            line += (f" {rate:5.1f} readings/s (best {best:5.1f}, x{ratio:4.2f} of simd), ready in "
                     f"{statistics.median(r['load'] for r in runs):4.1f} s")
        if "photo_ms" in runs[0]:
            line += f" {statistics.median(r['photo_ms'] for r in runs):6.1f} ms a photo"
        print(line)


if __name__ == "__main__":
    main()
