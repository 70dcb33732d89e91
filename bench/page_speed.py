"""The live page's readings per second in headless Chromium, with a fake camera playing a 640x480 cluttered
scene: a hand held still, the same hand moving across the scene (as the page's test plays it), and the
empty scene; with the server's own milliseconds per frame and the browser's per request.

    python -m bench.page_speed --model runs/reader [--seconds 8] [--data-dir DIR]

Needs Debian's chromium and chromium-driver (tests/test_serve.py's browser and Y4M writer are used). Each
video plays in its own browser against one server, one after the other, in this process.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from tests.test_serve import browser, free_port, y4m
from tfsigns.images.scenes import paste, scene
from tfsigns.images.signs import load_dataset
from tfsigns.reader.serve import make_app
from tfsigns.training.inference import Reader

ROOM = 7
# Wraps the page's fetch: each request's round trip in the browser, and the server's ms (negative: no hand)
TIMING = """
window.T = {fetch: [], server: []};
const f = window.fetch;
window.fetch = async (...args) => {
  const started = performance.now(), response = await f(...args);
  const body = JSON.parse(await response.clone().text());
  T.fetch.push(performance.now() - started); T.server.push(body.hand ? body.ms : -body.ms);
  return response;
};
"""


def videos(data_dir: str | None) -> dict[str, list[np.ndarray]]:
    """The three fake camera's videos, 640x480 frames: a 3 held still, moving left to right, none."""
    photos, labels = load_dataset(data_dir)[2:4]
    three = photos[int(np.flatnonzero(labels.reshape(-1) == 3)[0])]
    path = [(t, 0.2 + 0.6 * t) for t in np.linspace(0, 1, 40)]
    return {"a hand held still": [paste(three, ROOM, at=(0.5, 0.4))[0]] * 40,
            "a hand moving across the scene": [paste(three, ROOM, at=at)[0] for at in path],
            "the empty scene": [scene(ROOM)] * 40}


def main() -> None:
    import uvicorn
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a finished run (make reader: runs/reader)")
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each video is read")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    reader, port = Reader(args.model), free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(reader, None, "127.0.0.1", port), host="127.0.0.1",
                                           port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with tempfile.TemporaryDirectory() as tmp:
        for name, frames in videos(args.data_dir).items():
            video = Path(tmp) / "camera.y4m"
            y4m(frames, video)
            page = browser("/usr/bin/chromium", "/usr/bin/chromedriver", video)
            try:
                page.get(f"http://127.0.0.1:{port}/")
                page.execute_script(TIMING)
                time.sleep(args.seconds)
                timing = page.execute_script("return window.T")
            finally:
                page.quit()
            server_ms = np.abs(timing["server"])
            rate, seen = len(timing["fetch"]) / args.seconds, np.mean(np.array(timing["server"]) > 0)
            print(f"{name:32s} {rate:5.1f} readings a second, server {np.median(server_ms):5.1f} ms, browser "
                  f"round trip {np.median(timing['fetch']):5.1f} ms (medians); hand seen in {seen:.0%}")
    server.should_exit = True
    reader.close()


if __name__ == "__main__":
    main()
