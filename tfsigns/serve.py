"""The live reader page: `python -m tfsigns.serve --model RUN [--port 8000] [--host 127.0.0.1]`.

Serves a page (GET /) that reads hand signs from the webcam, several times a second, and from an
uploaded photo, and POST /predict, which answers an image file sent as the request's body with the
JSON object `python -m tfsigns.predict --json` prints (`?input=1` adds the 64x64 input as the
network sees it, a PNG data URL). Every photo is read by tfsigns.photos and tfsigns.inference, as
the command line reads files: the page sends the camera's whole frame, never a preparation of its
own. Starlette (with uvicorn) serves it: a small, well-kept server library with no front-end
build step, so the page is plain HTML and JavaScript in tfsigns/page.html.

Bad input (a body that is empty, too large or not an image) is answered with status 400 and a
one-line JSON error, and the server goes on. A model folder that is not a finished run, or a busy
port, is one line on stderr and exit 2, before anything is served.
"""

from __future__ import annotations

import base64
import io
import socket
import sys
from pathlib import Path

from tfsigns.cli import HelpFormatter, Parser, line_buffered_output
from tfsigns.photos import ImageError, image_from_bytes
from tfsigns.runs import CheckpointError, finished_run

PROG = "tfsigns.serve"
PAGE = Path(__file__).with_name("page.html")
MAX_BYTES = 10 << 20  # a phone's photo is a few MB; more is not a photo to read


def png_data_url(column, size: int = 64) -> str:
    """The (size*size*3,) column in [0, 1] as the network sees it, a PNG data URL for an <img>."""
    from PIL import Image
    pixels = (column.reshape(size, size, 3) * 255).round().astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def reading(reader, body: bytes, name: str, with_input: bool) -> dict:
    """What POST /predict answers for an image file's bytes: predict --json's object (and the input)."""
    if len(body) > MAX_BYTES:
        raise ImageError(f"{name}: too large ({len(body) >> 20} MB; at most {MAX_BYTES >> 20} MB)")
    column = image_from_bytes(body, name)
    row = reader.probabilities(column[:, None])[0]
    answer = {"image": name, "class": int(row.argmax()), "probabilities": [float(p) for p in row]}
    if with_input:
        answer["input"] = png_data_url(column)
    return answer


def make_app(reader):
    """The Starlette application: the page, and POST /predict over `reader` (tfsigns.inference.Reader)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    page = PAGE.read_text(encoding="utf-8")

    async def index(request):
        return HTMLResponse(page)

    async def predict(request):
        name = request.query_params.get("name", "the image")[:100]
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BYTES:
                break
        try:
            with_input = request.query_params.get("input") == "1"
            answer = await run_in_threadpool(reading, reader, body, name, with_input)
        except ImageError as err:
            return JSONResponse({"error": str(err)}, status_code=400)
        return JSONResponse(answer)

    return Starlette(routes=[Route("/", index), Route("/predict", predict, methods=["POST"])])


def port_problem(host: str, port: int) -> str | None:
    """Why the server cannot listen on host:port (busy, or not an address here), or None."""
    try:
        with socket.create_server((host, port)):
            return None
    except OSError as err:
        return f"cannot listen on {host}:{port} ({err.strerror or err})"


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a finished run folder (python -m tfsigns.train)")
    parser.add_argument("--port", type=int, default=8000, help="the port to serve on")
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
        except CheckpointError as err:
            problem = str(err)
        problem = problem or port_problem(args.host, args.port)
    if problem:
        print(f"{PROG}: error: {problem}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{PROG}: warning: serving on {args.host}: anyone who can reach this machine can use the page",
              file=sys.stderr)
    from tfsigns.inference import Reader
    try:
        reader = Reader(args.model)
    except CheckpointError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    import uvicorn
    print(f"serving the reader of {args.model} on http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    uvicorn.run(make_app(reader), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
