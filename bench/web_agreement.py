"""The web reader against read.py on every photo the project has: the 120 SIGNS test photos (as PNG), other
people's hands (JPEG, 100x100: each --photos folder, a folder per sign) and hand-free 640x480 scenes, read by
window.tfsigns.read in headless Chromium and by the export's read.py: the share of photos answered alike
(class, sign and "hand") and the probabilities' largest difference ("unknown"'s too). tests/test_web.py
checks a sample of them; this reads them all.

    python -m bench.web_agreement --reader runs/reader-export [--photos ../shared/data/otherhands]
        [--photos ../shared/data/digits] [--scenes 40]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.browser import browser, static_server, wait_for
from tests.test_web import run_js
from tfsigns.images.scenes import scene
from tfsigns.images.signs import load_dataset


def shelf(folder: Path, photos: list[Path], scenes: int, data_dir: str | None) -> list[str]:
    """The photos, written or copied into `folder`, by name."""
    names = []
    for i, image in enumerate(load_dataset(data_dir)[2]):
        Image.fromarray(image).save(folder / f"signs-{i:03d}.png")
        names.append(f"signs-{i:03d}.png")
    for path in sorted(path for root in photos for path in root.glob("[0-9]/*")):
        shutil.copyfile(path, folder / f"other-{path.parent.name}-{path.name}")
        names.append(f"other-{path.parent.name}-{path.name}")
    for seed in range(scenes):
        Image.fromarray(scene(1000 + seed)).save(folder / f"scene-{seed:03d}.png")
        names.append(f"scene-{seed:03d}.png")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reader", required=True, help="an export (python -m tfsigns.export)")
    parser.add_argument("--photos", action="append", help="a folder per sign of photos (again for another; "
                        "default ../shared/data/otherhands)")
    parser.add_argument("--scenes", type=int, default=40, help="hand-free scenes to read")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    reader = Path(args.reader)
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(p) for p in args.photos or ["../shared/data/otherhands"]]
        names = shelf(Path(tmp), folders, args.scenes, args.data_dir)
        read = subprocess.run([sys.executable, str(reader / "read.py"), *(f"{tmp}/{n}" for n in names)],
                              capture_output=True, text=True, check=True)
        expected = [json.loads(line) for line in read.stdout.splitlines()]
        with static_server(reader / "web", {"/photos/": Path(tmp)}) as (url, _):
            page = browser("/usr/bin/chromium", "/usr/bin/chromedriver", flags=("--deny-permission-prompts",))
            try:
                page.get(url + "/")
                wait_for(lambda: page.execute_script("return !!window.tfsigns"), 60, "the reader")
                started = time.monotonic()
                answers = []
                for start in range(0, len(names), 50):  # a call at a time, within WebDriver's 2 minutes
                    answers += run_js(page, """const out = [], reader = await window.tfsigns.ready;
                        for (const name of args[0]) out.push(await reader.read(`/photos/${name}`));
                        return out;""", names[start:start + 50])
                seconds = time.monotonic() - started
            finally:
                page.quit()
    groups = {"SIGNS test": "signs-", "other hands": "other-", "scenes": "scene-"}
    for group, prefix in groups.items():
        pairs = [(a, e) for n, a, e in zip(names, answers, expected, strict=True) if n.startswith(prefix)]
        same = [(a["class"], a.get("sign"), a.get("hand")) == (e["class"], e.get("sign"), e.get("hand"))
                for a, e in pairs]
        differences = [np.abs(np.subtract([*a["probabilities"], a.get("unknown", 0)],
                                          [*e["probabilities"], e.get("unknown", 0)])).max()
                       for a, e in pairs if a["probabilities"] is not None and e["probabilities"] is not None]
        hands = np.mean([e.get("hand") for _, e in pairs])
        unknown = np.mean([e.get("hand") and e["class"] is None for _, e in pairs])
        print(f"{group:12s} {sum(same):4d} of {len(pairs):4d} alike ({np.mean(same):.4f}); probabilities at "
              f"most {max(differences, default=0):.1e} apart; read.py saw a hand in {hands:.0%}, an unknown "
              f"sign in {unknown:.0%}")
        for (a, e), alike in zip(pairs, same, strict=True):
            if not alike:
                print(f"    {e['image']}: browser {a['class']} hand {a.get('hand')}, read.py {e['class']} "
                      f"hand {e.get('hand')}")
    each = seconds / len(names) * 1000
    print(f"{len(names)} photos in {seconds:.0f} s in the browser, {each:.0f} ms a photo")


if __name__ == "__main__":
    main()
