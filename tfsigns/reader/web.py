"""The reader as a web page that runs on the device (tfsigns/web): the files of an export's DIR/web/, and
of the live page's /web/ (tfsigns.serve).

The page (index.html and its JavaScript modules, one a step of reader.json, as tfsigns/portable has them),
LiteRT.js (npm's @litertjs/core and @litertjs/wasm-utils, Apache-2.0: its ES module and the WebAssembly
builds the page chooses from, relaxed SIMD or compatible), the models and reader.json, a manifest, icons
and a service worker, which make it installable and let it read offline after one visit. Any static file
server serves the folder: `python -m http.server --directory DIR/web`; nothing is loaded from elsewhere.

LiteRT.js comes from tfsigns/web/node_modules, which `make web` installs with `npm ci` from the pinned
package-lock.json; WebError says so when it is missing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "web"
PACKAGES = WEB / "node_modules" / "@litertjs"
# the page's own files (sw.js is written with the folder's version first)
PAGE = ("index.html", "app.js", "camera.js", "reader.js", "contract.js", "answer.js", "photos.js",
        "resample.js", "palm.js", "hands.js", "framing.js", "runtime.js", "reader.css",
        "manifest.webmanifest")
# LiteRT.js's WebAssembly builds: with relaxed SIMD, without it for browsers that lack it, and threaded for
# pages that are cross-origin isolated (COOP and COEP): a page loads one of them
VARIANTS = ("litert_wasm_internal", "litert_wasm_compat_internal", "litert_wasm_threaded_internal")
# what makes a page cross-origin isolated, so that LiteRT.js may run threads (tfsigns.serve sends them)
ISOLATED = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
ICONS = (192, 512)
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css",
         ".json": "application/json",
         ".wasm": "application/wasm", ".tflite": "application/octet-stream", ".png": "image/png",
         ".webmanifest": "application/manifest+json", ".txt": "text/plain; charset=utf-8"}
NOTICE = """LiteRT.js, from npm: @litertjs/core {core} and @litertjs/wasm-utils {utils} (Google LLC, Apache
License 2.0: https://www.apache.org/licenses/LICENSE-2.0, the text of ../LICENSE where the folder has
MediaPipe's hand models; https://github.com/google-ai-edge/LiteRT, litert/js). Their package.json files are
beside this one. Copied unchanged by python -m tfsigns.export from the packages npm ci installed.
"""


class WebError(ValueError):
    """The page's files cannot be gathered: LiteRT.js is not installed."""


def litert_files() -> dict[str, Path]:
    """LiteRT.js's files the page loads, by their path in the web folder; WebError when npm has not
    installed it."""
    core, utils = PACKAGES / "core", PACKAGES / "wasm-utils"
    files = {"litert/core/index.js": core / "dist" / "index.js",
             "litert/core/package.json": core / "package.json",
             "litert/wasm-utils/index.js": utils / "dist" / "index.js",
             "litert/wasm-utils/package.json": utils / "package.json"}
    for variant, end in ((variant, end) for variant in VARIANTS for end in (".js", ".wasm")):
        files[f"litert/wasm/{variant}{end}"] = core / "wasm" / f"{variant}{end}"
    if missing := [path for path in files.values() if not path.is_file()]:
        raise WebError(f"LiteRT.js is not installed ({missing[0]} is missing): run `make web` (npm ci in "
                       f"{WEB}), which the page needs")
    return files


def icon(size: int) -> bytes:
    """The page's icon, a PNG: an open hand, white on blue."""
    from PIL import Image, ImageDraw
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=(53, 114, 176, 255))
    u = size / 16
    draw.rounded_rectangle((4.5 * u, 7 * u, 11.5 * u, 13.5 * u), radius=2 * u, fill="white")  # the palm
    for x, top in ((4.5, 3.5), (6.4, 2.2), (8.3, 2.0), (10.2, 3.0)):  # four fingers
        draw.rounded_rectangle((x * u, top * u, (x + 1.3) * u, 9 * u), radius=0.65 * u, fill="white")
    draw.rounded_rectangle((11 * u, 8 * u, 13.6 * u, 9.3 * u), radius=0.65 * u, fill="white")  # the thumb
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def web_files(models: dict[str, Path | bytes], contract: dict, worker: bool = True
              ) -> dict[str, Path | bytes]:
    """Every file of the page's folder by its path there: the page, LiteRT.js, the models ({name: file or
    bytes}, reader.json's own) and reader.json; with `worker`, the service worker, versioned by every
    other file, so that a browser takes a new export in place of the one it keeps offline."""
    files: dict[str, Path | bytes] = {name: WEB / name for name in PAGE} | litert_files()
    core, utils = (json.loads(files[f"litert/{name}/package.json"].read_text())["version"]
                   for name in ("core", "wasm-utils"))
    files |= {"litert/NOTICE.txt": NOTICE.format(core=core, utils=utils).encode(),
              "reader.json": (json.dumps(contract, indent=1) + "\n").encode(), **models}
    files |= {f"icon-{size}.png": icon(size) for size in ICONS}
    if worker:
        digest = hashlib.sha256()
        for name in sorted(files):
            data = files[name]
            digest.update(name.encode() + b"\0" + (data if isinstance(data, bytes) else data.read_bytes()))
        files["sw.js"] = (f'const VERSION = "{digest.hexdigest()[:16]}";\n'.encode()
                          + (WEB / "sw.js").read_bytes())
    return files


def write_web(folder: Path, models: dict[str, Path], contract: dict) -> None:
    """The page's folder written at `folder` (which must not exist); the models (files beside it) linked
    where the file system allows, so that the folder's copies of them take no more room."""
    for name, data in web_files(models, contract).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name in models:
            try:
                os.link(data, path)
                continue
            except OSError:
                pass
        path.write_bytes(data if isinstance(data, bytes) else data.read_bytes())
    os.chmod(folder, 0o755)


def content_type(name: str) -> str:
    """The Content-Type a file of the page's folder is served with."""
    return TYPES.get(Path(name).suffix, "application/octet-stream")


class RunPage:
    """The web files of a finished run, for the live page (tfsigns.serve, at /web/): made on first use, its
    classifier converted as the export converts it (a few seconds), then kept; with `now`, made at once.
    Thread-safe."""

    HEADERS = {"Cache-Control": "no-cache", **ISOLATED}  # how the live page serves them

    def __init__(self, run_dir: str | os.PathLike, now: bool = False):
        self.run_dir, self.lock, self.made = Path(run_dir), threading.Lock(), None
        if now:
            self.files()

    def files(self) -> dict[str, Path | bytes]:
        """The page's files by their path under /web/ (no service worker: the live page is online)."""
        with self.lock:
            if self.made is None:
                from tfsigns.reader.convert import convert
                tflite, contract, models = convert(self.run_dir)
                licence = [path.parent / "LICENSE" for path in models.values()][:1]
                models = {contract["classifier"]["file"]: tflite, **models,
                          **{path.name: path for path in licence if path.is_file()}}
                self.made = web_files(models, contract, worker=False)
            return self.made

    def get(self, name: str) -> bytes | None:
        """The file of that name, or None where the page's folder holds none."""
        found = self.files().get(name)
        return found.read_bytes() if isinstance(found, Path) else found
