"""A finished run as a reader that leaves Python's tfsigns: `python -m tfsigns.export --model RUN --out DIR`.

DIR gets:
- classifier.tflite: the run's network in test mode (batch norm's statistics, no dropout, the training flag
  false), built by its family's own builders on its checkpoint in a tf.compat.v1 session and converted with
  TFLiteConverter.from_session; one example in, rows (1, *input) -> probabilities (1, C);
- reader.json: the input contract in words and numbers, and every model file's SHA-256;
- a landmark run's hand models (MediaPipe's palm detector and landmark model, Apache-2.0) and their LICENSE;
- read.py and portable/ (tfsigns.portable, copied): the runner, NumPy, Pillow and a TFLite interpreter;
  `python DIR/read.py PHOTO...` prints what `python -m tfsigns.predict --json` prints, where tfsigns is not
  installed. reader.json's "steps" say what an app must do per frame (docs/export.md says more);
- web/: the same reader as a page that runs on the device (tfsigns.reader.web): `python -m http.server
  --directory DIR/web` serves it, a phone opens it, and it reads the camera and photos with LiteRT.js, offline
  after one visit.

--quantize float16 or dynamic stores the classifier's weights in float16 or int8 (bench/export.py measures
its size and accuracy). DIR is made at once, empty, and replaced by a folder written beside it once that is
whole; an existing DIR is never written over. Bad input is one line on stderr and exit code 2: flags, an
existing --out, an unfinished run or an unknown family before TensorFlow loads; a run whose files disagree
with its metrics.json (or a landmark run from before the input contract) once its checkpoint is read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from tfsigns.config import NETWORKS
from tfsigns.hands.files import ModelError
from tfsigns.reader.web import WebError, litert_files, write_web
from tfsigns.training.runs import CheckpointError, finished_run
from tfsigns.utils.cli import HelpFormatter, Parser, line_buffered_output

PROG = "tfsigns.export"
QUANTIZATIONS = ("none", "float16", "dynamic")
PORTABLE = Path(__file__).resolve().parents[1] / "portable"
REQUIREMENTS = "numpy\npillow\nai-edge-litert  # or tensorflow, whose tf.lite runs the same models\n"
LAUNCHER = '''"""Reads the hand sign in photos with the reader in this folder: python read.py PHOTO..."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # portable/, also under python -I
from portable.read import main  # noqa: E402

sys.exit(main())
'''


class ExportError(ValueError):
    """A run that cannot be exported, or an --out that cannot be written."""


def main(argv: list[str] | None = None) -> int:
    """Export the run; one line and exit 2 for bad input."""
    line_buffered_output()
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0], formatter_class=HelpFormatter)
    parser.add_argument("--model", required=True, help="a finished run (python -m tfsigns.train --out)")
    parser.add_argument("--out", required=True, help="the folder to create; it must not exist")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, default="none",
                        help="store the classifier's weights as float16 or int8 (dynamic range)")
    args = parser.parse_args(argv)
    try:
        out = checked_out(args.out)
        litert_files()  # LiteRT.js for web/, before TensorFlow loads
        family = finished_run(args.model)[0]["config"].get("arch", "mlp")
        if not isinstance(family, str) or family not in NETWORKS:
            raise ExportError(f"--model {args.model}: its network family {family!r} is unknown to this "
                              f"version (it exports {', '.join(NETWORKS)})")
        written = export(args.model, out, args.quantize)
    except (CheckpointError, ModelError, ExportError, WebError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; {args.out} was not written", file=sys.stderr)
        return 130
    sizes = {path.relative_to(out).as_posix(): path.stat().st_size for path in sorted(out.rglob("*"))
             if path.is_file()}
    for name in ("classifier.tflite", "reader.json", *written["hand_models"]):
        print(f"  {name:32} {sizes[name] / 1e3:9.1f} kB")
    web = [size for name, size in sizes.items() if name.startswith("web/")]
    print(f"  {'web/':32} {sum(web) / 1e6:9.2f} MB in {len(web)} files (the page, LiteRT.js, the models); "
          f"serve it with: python -m http.server --directory {out / 'web'}")
    print(f"{out}: {len(sizes)} files, {sum(sizes.values()) / 1e6:.2f} MB ({family} reader, classifier "
          f"{sizes['classifier.tflite'] / 1e3:.1f} kB, quantize {args.quantize}); read a photo with: "
          f"python {out / 'read.py'} PHOTO")
    return 0


def checked_out(path: str) -> Path:
    """--out as a folder to create: it must not exist and its parent must be a writable folder."""
    out = Path(path)
    try:
        if out.exists() or out.is_symlink():
            raise ExportError(f"--out {out}: already exists; an export is never written over, name a new "
                              "folder")
        writable = out.parent.is_dir() and os.access(out.parent, os.W_OK | os.X_OK)
    except OSError as err:  # a name too long, a path through a file
        raise ExportError(f"--out {out}: cannot be created ({err.strerror or err})") from None
    if not writable:
        raise ExportError(f"--out {out}: cannot be created ({out.parent} is not a writable folder)")
    return out


def export(run_dir: str | os.PathLike, out: Path, quantize: str = "none") -> dict:
    """Write the reader folder `out` for the finished run (see the module's docstring) and return its
    reader.json. `out` is made at once, empty, so that nothing else takes the name; the files are
    written in a folder beside it, which then replaces it whole. On any failure, or Ctrl-C, both go."""
    from tfsigns.reader.convert import convert
    work, made = None, False
    try:
        out.mkdir()
        made = True
        tflite, contract, models = convert(run_dir, quantize)
        licence = next(iter(models.values())).parent / "LICENSE" if models else None
        if licence and not licence.is_file():
            raise ModelError(f"{licence.parent}: holds no LICENSE beside the hand models; an export must "
                             "carry MediaPipe's licence (Apache-2.0) with them")
        work = Path(tempfile.mkdtemp(prefix=".export-", suffix=".partial", dir=out.parent))
        (work / "classifier.tflite").write_bytes(tflite)
        for path in models.values():
            shutil.copyfile(path, work / path.name)
        if licence:
            shutil.copyfile(licence, work / "LICENSE")
        shutil.copytree(PORTABLE, work / "portable", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (work / "read.py").write_text(LAUNCHER)
        (work / "requirements.txt").write_text(REQUIREMENTS)
        (work / "reader.json").write_text(json.dumps(contract, indent=1) + "\n")
        used = [contract["classifier"]["file"], *contract["hand_models"], *(["LICENSE"] if licence else [])]
        write_web(work / "web", {name: work / name for name in used}, contract)
        os.chmod(work, 0o755)
        os.rename(work, out)  # replaces the empty `out`; fails where something was put into it meanwhile
    except BaseException as err:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if made:
            with contextlib.suppress(OSError):
                out.rmdir()  # only while it is still the empty folder made here
        if isinstance(err, OSError):
            raise ExportError(f"--out {out}: could not be written ({err.strerror or err})") from None
        raise
    return contract


if __name__ == "__main__":
    sys.exit(main())
