"""The live page's door: which requests reach it (its own host and origin, the right body type), and a
POST's body read within a time and a memory bound before it counts as in flight, so that slow or foreign
clients cannot lock everyone else out (tfsigns.serve puts Guard in front of its routes)."""

from __future__ import annotations

import asyncio
import time

MAX_BYTES = 10 << 20  # a phone's photo is a few MB; more is not a photo to read
MAX_IN_FLIGHT = 4  # requests being read at once; more are answered 503 at once (the reads go one at a time)
BODY_SECONDS = 30.0  # a POST's whole body arrives within this, or 408 and its connection is closed
BODIES_MB = 256  # bodies still arriving hold at most this much memory together; beyond, 503
LOOPBACK = ("127.0.0.1", "localhost", "::1")
IMAGE_TYPES = ("image/", "application/octet-stream")  # what POST /predict takes as its body


def own_hosts(host: str, port: int) -> set[str]:
    """The Host headers (and, after a scheme, the origins) of requests for the page itself, served on
    host:port: the loopback names when it serves on loopback, else the address it serves on."""
    names = {"127.0.0.1", "localhost", "[::1]"} if host in LOOPBACK else {
        f"[{host}]" if ":" in host else host}
    return {f"{name}:{port}" for name in names}


def refusal(scope: dict, hosts: set[str]) -> tuple[int, str] | None:
    """Why a request is refused, as (status, one line), or None: a Host that is not the page's own (DNS
    rebinding), an Origin that is not the page's (another site's page posting here), or a body of the
    wrong type (JSON for /calibrate; an image for /predict), which another site cannot send without
    asking first."""
    headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
    if headers.get("host", "") not in hosts:
        return 403, f"this page answers requests for itself only, not for host {headers.get('host')!r}"[:200]
    origin = headers.get("origin")
    if origin is not None and origin.removeprefix("http://").removeprefix("https://") not in hosts:
        return 403, f"this page answers its own page only, not a page from {origin!r}"[:200]
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if scope["method"] == "POST" and scope["path"] == "/calibrate" and kind != "application/json":
        return 400, "POST /calibrate takes a JSON body, Content-Type: application/json"
    if scope["method"] == "POST" and scope["path"] == "/predict" and not kind.startswith(IMAGE_TYPES):
        return 400, "POST /predict takes an image file as its body, Content-Type: image/... "
    return None


class Guard:
    """ASGI middleware in front of the page: refused requests (refusal) are answered with their status and a
    one-line JSON error; a POST's body is read here first, within BODY_SECONDS (408 after), and only then
    counts as in flight, at most MAX_IN_FLIGHT at once (503 beyond): slow clients cannot hold the slots."""

    def __init__(self, app, hosts: set[str]):
        self.app, self.hosts, self.in_flight, self.arriving = app, hosts, 0, 0

    async def __call__(self, scope, receive, send):
        from starlette.responses import JSONResponse
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refused = refusal(scope, self.hosts)
        if refused is None and scope["method"] == "POST":
            body, refused = await self.body(receive, MAX_BYTES * (6 if scope["path"] == "/calibrate" else 1))
            receive = _replay(body, receive)
        if refused is None and scope["method"] == "POST" and self.in_flight >= MAX_IN_FLIGHT:
            refused = 503, f"busy: {MAX_IN_FLIGHT} requests are being read; try again"
        if refused:
            return await JSONResponse({"error": refused[1]}, status_code=refused[0])(scope, receive, send)
        self.in_flight += scope["method"] == "POST"
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= scope["method"] == "POST"

    async def body(self, receive, most: int) -> tuple[bytes, tuple[int, str] | None]:
        """The request's body (cut after `most` bytes, for the route to refuse), or why not: it did not all
        arrive in BODY_SECONDS (408), or the bodies arriving would hold more than BODIES_MB (503)."""
        body, more, deadline = bytearray(), True, time.monotonic() + BODY_SECONDS
        try:
            while more and len(body) <= most:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                chunk, more = message.get("body", b""), message.get("more_body", False)
                if self.arriving + len(chunk) > BODIES_MB << 20:
                    return b"", (503, "busy: too many bodies are arriving at once; try again")
                self.arriving += len(chunk)
                body += chunk
        except TimeoutError:
            return b"", (408, f"the request's body did not arrive within {BODY_SECONDS:g} s")
        finally:
            self.arriving -= len(body)
        return bytes(body), None


def _replay(body: bytes, receive):
    """An ASGI receive that hands the route the body read already, then waits as `receive` does."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay():
        return messages.pop() if messages else await receive()
    return replay
