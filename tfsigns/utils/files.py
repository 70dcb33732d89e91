"""Writing results so that a reader never sees a half-written file: temp file + rename."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path


class OutputError(OSError):
    """An output folder cannot be created or written."""


def prepare_out_dir(path: str | os.PathLike) -> Path:
    """Create `path` if needed and prove it is writable, before any work is done."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise OutputError(f"--out {out}: cannot write there ({err.strerror or err})") from None
    return out


def check_writable(path: str | os.PathLike) -> None:
    """OutputError unless `path` could be created and written, changing nothing: its nearest
    existing ancestor must be a writable folder (prepare_out_dir proves it later, by writing)."""
    out = Path(path)
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: cannot write there ({existing} is not a writable folder)")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def json_safe(obj):
    """`obj` with every NaN or infinite float replaced by None (JSON's null): JSON has no NaN,
    and Python's NaN token makes a file other JSON readers refuse."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {key: json_safe(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(value) for value in obj]
    return obj


def to_json(obj, indent: int | None = None) -> str:
    """Strict JSON text of `obj` (non-finite floats as null)."""
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike, obj) -> None:
    """Atomically write `obj` as indented, strict JSON."""
    atomic_write_bytes(path, (to_json(obj, indent=2) + "\n").encode())
