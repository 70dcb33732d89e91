"""Headless Chromium for the pages' tests (the live page, the web reader): Debian's chromium and
chromium-driver driven by Selenium, a fake camera playing a Y4M video, a static file server that can be
stopped, and waiting for a page's state."""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

# Chromium on a machine with no network: nothing it starts of itself may reach out
QUIET = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-domain-reliability", "--window-size=1100,900")


def y4m(frames: list[np.ndarray], path: Path, fps: int = 10) -> None:
    """RGB frames (h, w, 3) uint8 as a Y4M video, 4:2:0, as Chromium's fake camera plays it."""
    h, w, _ = frames[0].shape
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            r, g, b = (frame[..., k].astype(float) for k in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            video.write(b"FRAME\n")
            for plane, step in ((y, 1), (u, 2), (v, 2)):
                small = plane.reshape(h // step, step, w // step, step).mean(axis=(1, 3))
                video.write(np.clip(small.round(), 0, 255).astype(np.uint8).tobytes())


def chromium_or_skip() -> tuple[str, str]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Chromium and ChromeDriver are not installed (apt-get install chromium chromium-driver)")
    return chromium, driver


def browser(chromium: str, driver: str, video: Path | None = None, flags: tuple[str, ...] = ()):
    """Headless Chromium; with `video`, its camera plays that Y4M file and is granted without asking."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    camera = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}") if video else ()
    for flag in (*QUIET, *camera, *flags):
        options.add_argument(flag)
    page = webdriver.Chrome(service=Service(driver), options=options)
    page.set_script_timeout(300)
    return page


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds:g} s for {what}")


class _Files(http.server.SimpleHTTPRequestHandler):
    """A folder's files, and other folders' at the paths `mounts` names ({"/photos/": folder})."""

    def __init__(self, *args, mounts: dict[str, Path], log: list, **kwargs):
        self.mounts, self.log = mounts, log
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        for prefix, folder in self.mounts.items():
            if path.startswith(prefix):
                return str(Path(folder) / path[len(prefix):].split("?")[0].split("#")[0])
        return super().translate_path(path)

    def log_request(self, code="-", size="-"):
        self.log.append((self.path, str(getattr(code, "value", code))))

    def log_message(self, format, *args):  # noqa: A002  (http.server's name): errors, not logged
        pass


@contextlib.contextmanager
def static_server(folder: Path, mounts: dict[str, Path] | None = None, port: int = 0):
    """`folder` served as `python -m http.server --directory folder` serves it, on loopback, in a thread;
    yields (its address, [(path asked for, status code)]). Stopped on leaving."""
    log: list[str] = []
    handler = functools.partial(_Files, directory=str(folder), mounts=mounts or {}, log=log)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
