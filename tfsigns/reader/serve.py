"""The live reader page: `python -m tfsigns.serve --model RUN [--port 8000] [--host 127.0.0.1]`.

Serves a page (GET /) that reads hand signs from the webcam, many times a second, and from a chosen photo,
in the browser: the web reader (tfsigns/web at GET /web/: the run's classifier converted as the export
converts it, its hand models, LiteRT.js) runs reader.json's steps there, so the camera's frames never leave
the device. The server keeps what needs training or files. POST /predict, for other clients, answers an
image file sent as the body with the JSON object `python -m tfsigns.predict --json` prints and "ms", the
server's milliseconds; a landmark run adds "landmarks", the hand's 21 (x, y) in [0, 1] of the photo (null
with "hand": false), and `?track=1` says the photo is a video's next frame (MediaPipe's tracking); a pixel
run's `?input=1` adds its 64x64 input as the network sees it, a PNG data URL. Starlette (with uvicorn)
serves it: a small, well-kept server library with no build step for the page (plain HTML and JavaScript).

Teaching from the page: POST /calibrate with a JSON object {"photos": {"<sign>": [data URL, ...], ...}},
1 to 20 camera photos of each sign given, teaches the model those signs (tfsigns.calibrate: a sign it knows
is adapted, a new name is learnt as a new sign) in the background into a new run beside it, RUN-calibrated-N;
GET /calibration tells how it goes; once it is done, /web/ serves the new run and the page reads with it.
GET /reader says what the page's reader reads: its signs, whether it knows "a sign I don't know".

Bad input (a body that is empty, too large or not an image; a sign's name with a slash or too long, too
many photos, a photo in which a landmark run sees no hand, a new sign for a pixel run, or calibrating while
one runs) is answered with status 400 and a one-line JSON error, and the server goes on; a photo with no
hand in it is no error (200, "hand": false).
A model folder that is not a finished run, a busy port, or LiteRT.js not installed (make web), is one line
on stderr and exit 2, before anything is served.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np

from tfsigns.hands.files import ModelError
from tfsigns.portable.photos import ImageError, frame_from_bytes, image_from_bytes
from tfsigns.reader.guard import LOOPBACK, MAX_BYTES, Guard, own_hosts
from tfsigns.reader.web import ISOLATED, RunPage, WebError, content_type, litert_files
from tfsigns.training.runs import CheckpointError, finished_run
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output

PROG = "tfsigns.serve"
PAGE = Path(__file__).with_name("page.html")
MAX_PIXELS = 16_000_000  # a 12-megapixel phone photo fits; more is refused from its header, before decoding
KEEP_CALIBRATED = 3  # calibrated runs kept beside a model; a newer one replaces the oldest
MOST_SIGNS = 20  # signs in one calibration (the page teaches one at a time)


def png_data_url(column, size: int = 64) -> str:
    """The (size*size*3,) column in [0, 1] as the network sees it, a PNG data URL for an <img>."""
    from PIL import Image
    pixels = (column.reshape(size, size, 3) * 255).round().astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def reading(reader, body: bytes, name: str, with_input: bool, track: bool = False) -> dict:
    """What POST /predict answers for an image file's bytes: predict --json's object and the ms it took;
    a landmark run's with the hand's landmarks in [0, 1] of the photo, a pixel run's with its input."""
    if len(body) > MAX_BYTES:
        raise ImageError(f"{name}: too large (over {MAX_BYTES >> 20} MB)")
    started = time.perf_counter()
    if reader.hands is None:
        column = image_from_bytes(body, name, most_pixels=MAX_PIXELS)[:, None]
        answer = reader.signs.as_json(name, reader.probabilities(column)[0])
        if with_input:  # framed, for a run trained on framed photos
            answer["input"] = png_data_url(reader.as_seen(column)[:, 0])
    else:
        frame = frame_from_bytes(body, name, most_pixels=MAX_PIXELS)
        probabilities, (hand,) = reader.read([frame], track)
        answer = reader.signs.as_json(name, probabilities[0], landmarks=True)
        answer["landmarks"] = (None if hand is None else
                               (hand.landmarks[:, :2] / frame.shape[1::-1]).round(4).tolist())
    answer["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return answer


TRIM_PIXELS = 2_000_000  # a photo larger than this is decoded into memory worth handing back at once


def pixels(body: bytes) -> int:
    """The pixels an image file says it has (its header only), 0 when it does not say."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(body)) as image:
            return image.width * image.height
    except Exception:  # noqa: BLE001  (not an image: reading() has said so already)
        return 0


def give_back_memory() -> None:
    """Return freed memory to the system: glibc keeps it in each thread's arena, and the server's
    requests run on changing threads, so a few large photos would hold hundreds of MB (935 MB against
    703 MB after 16 reads of 15 megapixels, measured). About 1 ms; nothing where malloc_trim is missing."""
    libc = _libc()
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


@functools.cache
def _libc():
    """The C library, found once (ctypes.util.find_library runs ldconfig each time it is asked)."""
    import ctypes
    import ctypes.util
    return ctypes.CDLL(ctypes.util.find_library("c"))


def public(message: str) -> str:
    """An error's first line for a web page: every absolute path in it cut to its last part, so that the
    server's folders are not told to whoever sent the request."""
    return re.sub(r"(?:/[^/\s'\"(),:]+)+/([^/\s'\"(),:]+)", r"\1", message.splitlines()[0] if message else "")


def original_run(run: Path) -> Path:
    """The run a calibration starts from: `run`, or the run it was itself calibrated from (never a chain)."""
    origin = finished_run(run)[0].get("calibrated_from")
    return Path(origin) if origin and (Path(origin) / "metrics.json").is_file() else run


class Calibration:
    """The page's model and its teaching: which Reader answers, one photo at a time, and how teaching a new
    run the page's photos goes (idle, running, done, failed), one at a time, into at most KEEP_CALIBRATED
    runs beside the original. A landmark run learns from the run the page reads with, so that the signs
    taught before stay (it trains again from its examples); a pixel run is fine-tuned from the original
    run each time, never a chain of fine-tunings."""

    def __init__(self, reader, data_dir: str | None, warm: bool = False):
        self.reader, self.data_dir, self.lock = reader, data_dir, threading.Lock()
        self.in_use = threading.Lock()  # a Reader (its hand model's interpreters): one thread at once
        self.original = original_run(Path(reader.run_dir))
        self.state = {"status": "idle", "message": "", "run": Path(reader.run_dir).name}
        self.page = RunPage(reader.run_dir, now=warm)  # the web reader's files, for the page's /web/

    def read(self, body: bytes, name: str, with_input: bool, track: bool) -> dict:
        """reading() with the page's Reader, never two at once (a camera's frames, then, in order); the
        memory a large photo took is given back."""
        try:
            with self.in_use:
                return reading(self.reader, body, name, with_input, track)
        finally:
            if pixels(body) > TRIM_PIXELS:
                give_back_memory()

    def start(self, body: bytes) -> None:
        """Check the photos and start teaching in the background; ImageError (one line) when the photos
        will not do or a calibration is running."""
        from tfsigns.images.signs import DataError, find_data_dir
        from tfsigns.reader.calibrate import MOST_PHOTOS, check_out, check_sign_name, landmark_inputs
        from tfsigns.utils.files import OutputError
        try:
            photos = json.loads(body)["photos"]
            base = Path(self.reader.run_dir) if self.reader.hands is not None else self.original
            finished_run(base)  # the run teaching starts from is still whole
            lists = {check_sign_name(str(sign)): found for sign, found in photos.items()}
        except (ValueError, KeyError, TypeError, AttributeError, CheckpointError) as err:
            if isinstance(err, ImageError):
                raise
            raise ImageError('calibration wants a JSON object {"photos": {"<sign>": [photo, ...], ...}}'
                             ) from None
        landmarks = self.reader.hands is not None
        if not lists or len(lists) > MOST_SIGNS:
            raise ImageError(f"calibration takes the photos of 1 to {MOST_SIGNS} signs, got {len(lists)}")
        for sign, found in lists.items():
            if not isinstance(found, list) or not 1 <= len(found) <= MOST_PHOTOS:
                count = len(found) if isinstance(found, list) else "none"
                raise ImageError(f"calibration takes 1 to {MOST_PHOTOS} photos of a sign; sign {sign!r} has "
                                 f"{count}")
            if sign not in self.reader.signs.names and not landmarks:
                raise ImageError(f"sign {sign!r}: a pixel reader learns no new sign; it knows "
                                 f"{', '.join(self.reader.signs.names)}")
        images, names, signs = [], [], []  # a landmark run's frames, a pixel run's columns
        for sign, found in lists.items():
            for k, url in enumerate(found):
                data = url.partition("base64,")[2] if isinstance(url, str) else ""
                names.append(f"photo {k + 1} of sign {sign!r}")
                try:
                    photo = base64.b64decode(data, validate=True)
                    read = frame_from_bytes if landmarks else image_from_bytes
                    images.append(read(photo, names[-1], most_pixels=MAX_PIXELS))
                except ValueError as err:
                    raise ImageError(str(err) if isinstance(err, ImageError) else
                                     f"{names[-1]}: not a base64 data URL") from None
                signs.append(sign)
        # the last photo of each sign is held out to measure the new run on, where every sign has two or more
        held = ([max(i for i, s in enumerate(signs) if s == sign) for sign in lists]
                if all(len(found) >= 2 for found in lists.values()) else [])
        tuned = [i for i in range(len(signs)) if i not in held]
        stamp = time.strftime("%Y%m%d-%H%M%S")
        named = [self.original.parent / f"{self.original.name}-calibrated-{stamp}{suffix}"
                 for suffix in ("", *(f"-{n}" for n in range(2, 100)))]
        out = next((path for path in named if not path.exists()), named[-1])
        try:
            if landmarks:
                X, views = landmark_inputs([images[i] for i in tuned], [names[i] for i in tuned],
                                           [signs[i] for i in tuned], self.reader.hands.complexity)
            else:
                X, views = np.stack([images[i] for i in tuned], axis=1), None
            check_out(out)
            data_dir = None if landmarks else str(find_data_dir(self.data_dir))
        except (OutputError, DataError, ModelError) as err:
            raise ImageError(public(str(err))) from None
        with self.lock:
            if self.state["status"] == "running":
                raise ImageError("a calibration is running already; wait for it to finish")
            taught = [sign for sign in lists if sign not in self.reader.signs.names]
            self.state = {"status": "running", "run": base.name, "message": (
                f"learning {', '.join(taught)} from {len(tuned)} photos" if taught
                else f"fine-tuning on {len(tuned)} photos")}
        kept = [images[i] for i in held], [signs[i] for i in held]
        learn = (base, X, [signs[i] for i in tuned], views, kept, out, data_dir)
        threading.Thread(target=self._fine_tune, args=learn, daemon=True).start()

    def _fine_tune(self, base: Path, X: np.ndarray, signs: list[str], views: tuple | None,
                   kept: tuple[list, list[str]], out: Path, data_dir: str | None) -> None:
        from tfsigns.reader.calibrate import calibrate
        from tfsigns.training.inference import Reader
        try:
            metrics = calibrate(str(base), X, signs, out, data_dir or self.data_dir, seed=0, epochs=None,
                                views=views)
            reader, page = Reader(out), RunPage(out, now=True)  # converted before the page is told
            with self.in_use:
                before = self._accuracy(self.reader, *kept)
            after = self._accuracy(reader, *kept)
        except Exception as err:  # noqa: BLE001  (whatever stops it is told on the page)
            with self.lock:
                self.state = {**self.state, "status": "failed", "message": public(str(err))}
            return
        with self.in_use:
            self.reader, old, self.page = reader, self.reader, page
            old.close()
        self._prune(out)
        measured = (f"the {len(kept[1])} photos held out {after:.2f} (before: {before:.2f})" if len(kept[1])
                    else "no photo held out to measure it on (give two or more of each sign)")
        test = metrics["accuracy"].get("test")
        with self.lock:
            self.state = {"status": "done", "run": out.name, "signs": list(reader.signs.names), "message": (
                f"learnt in {metrics['wall_seconds']:.0f} s: {measured}"
                + ("" if test is None else f", SIGNS test {test:.3f}"))}

    @staticmethod
    def _accuracy(reader, images: list, signs: list[str]) -> float:
        """The share of the held-out photos (frames, or a pixel run's columns) the Reader reads as their
        signs (a sign it does not know: wrong)."""
        from tfsigns.reader.robustness import answers
        if not len(signs):
            return float("nan")
        names = list(reader.signs.names)
        if reader.hands is not None:
            found = answers(reader, images)
        else:
            found = reader.probabilities(np.stack(images, axis=1)).argmax(axis=1)
        right = [read >= 0 and names[read] == sign for read, sign in zip(found, signs, strict=True)]
        return float(np.mean(right))

    def _prune(self, newest: Path) -> None:
        """Remove the oldest of this model's page calibrations beyond KEEP_CALIBRATED (never `newest`)."""
        page_made = re.compile(re.escape(self.original.name) + r"-calibrated-\d{8}-\d{6}(-\d+)?")
        found = sorted(path for path in self.original.parent.iterdir()
                       if page_made.fullmatch(path.name) and (path / "metrics.json").is_file())
        for path in [path for path in found if path != newest][:max(0, len(found) - KEEP_CALIBRATED)]:
            shutil.rmtree(path, ignore_errors=True)


def make_app(reader, data_dir: str | None = None, host: str = "127.0.0.1", port: int = 8000,
             warm: bool = False):
    """The Starlette application for a page served on host:port, behind Guard: the page, its web reader
    (/web/; `warm`: made now), POST /predict over `reader` (a training.inference.Reader), calibration
    (SIGNS from `data_dir`, else $TFSIGNS_DATA, then data/)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    page = PAGE.read_text(encoding="utf-8")
    model = Calibration(reader, data_dir, warm)

    async def index(request):  # cross-origin isolated, so that LiteRT.js may run threads
        return HTMLResponse(page, headers=ISOLATED)

    async def body_of(request, most: int) -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > most:
                break
        return bytes(body)

    async def predict(request):
        name = request.query_params.get("name", "the image")[:100]
        body = await body_of(request, MAX_BYTES)
        try:
            flag = {key: request.query_params.get(key) == "1" for key in ("input", "track")}
            answer = await run_in_threadpool(model.read, body, name, flag["input"], flag["track"])
        except ImageError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse(answer)

    async def calibrate(request):
        body = await body_of(request, 6 * MAX_BYTES)
        try:
            if len(body) > 6 * MAX_BYTES:
                raise ImageError(f"calibration photos too large (at most {6 * MAX_BYTES >> 20} MB in all)")
            await run_in_threadpool(model.start, body)
        except ImageError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse(model.state, status_code=202)

    async def calibration(request):
        return JSONResponse(model.state)

    async def reader_signs(request):
        signs = model.reader.signs
        return JSONResponse({"signs": list(signs.names), "unknown": signs.unknown is not None,
                             "landmarks": model.reader.hands is not None,
                             "run": Path(model.reader.run_dir).name})

    async def web_file(request):  # the web reader of the run the page reads with (a file of it, or 404)
        name = request.path_params["name"]
        if (body := await run_in_threadpool(model.page.get, name)) is None:
            return JSONResponse({"error": f"/web/{name[:100]}: not found"}, status_code=404)
        return Response(body, media_type=content_type(name), headers=RunPage.HEADERS)

    return Starlette(routes=[Route("/", index), Route("/predict", predict, methods=["POST"]),
                             Route("/calibrate", calibrate, methods=["POST"]),
                             Route("/calibration", calibration), Route("/reader", reader_signs),
                             Route("/web/{name:path}", web_file)],
                     middleware=[Middleware(Guard, hosts=own_hosts(host, port))])


def port_problem(host: str, port: int) -> str | None:
    """Why the server cannot listen on host:port (busy, or not an address here), or None."""
    try:
        with socket.create_server((host, port)):
            return None
    except OSError as err:
        return f"cannot listen on {host}:{port} ({os.strerror(err.errno) if err.errno else err})"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a finished run folder (python -m tfsigns.train)")
    parser.add_argument("--port", type=int, default=8000, help="the port to serve on")
    parser.add_argument("--data-dir",
                        help="the SIGNS files, for calibration (default: $TFSIGNS_DATA, then data/)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to serve on; any other than 127.0.0.1 exposes the page to the "
                             "network")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until stopped (Ctrl-C); 2 on a model folder that is not a finished run, or a busy port."""
    line_buffered_output()
    args = build_parser().parse_args(argv)
    problem = None
    if not 0 < args.port < 65536:
        problem = f"--port must be from 1 to 65535, got {args.port}"
    else:
        try:
            finished_run(args.model)
            litert_files()  # the page's runtime
        except (CheckpointError, WebError) as err:
            problem = str(err)
        problem = problem or port_problem(args.host, args.port)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    if args.host not in LOOPBACK:
        print(f"{PROG}: warning: serving on {args.host}: anyone who can reach this machine can use the page; "
              "a browser opens the camera only for https or localhost, so from another machine the page "
              "reads uploads, not the camera", file=sys.stderr)
    from tfsigns.training.inference import Reader
    try:
        reader = Reader(args.model)
        app = make_app(reader, args.data_dir, args.host, args.port, warm=True)
    except (CheckpointError, ModelError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    import uvicorn
    print(f"serving the reader of {args.model} on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
