"""Behaviour unchanged across a change of the code: the same commands, run from two commits of
the project on this machine, must give the same per-epoch cost histories (and accuracies), to the last bit.

    python -m bench.same_histories --before a333e04 [--after HEAD] [--epochs 3] [--data-dir DIR]

Each commit is checked out into a temporary git worktree and each setting below runs there as
`python -m tfsigns.train ... --no-test` (the command users type, so the check holds whatever moved
inside the package), in a fresh process with this interpreter, the worktree first on its path.
Prints each setting's costs from both commits and whether they are equal; exits 1 when one is not.
Histories are compared only within one machine: another CPU may round differently.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The course's MLP, the batch-norm MLP, the course's CNN and the pixel reader's settings, a few epochs each
# (the settings file of this checkout, given to both commits: it was tfsigns/reader.json before the landmark
# reader took that name)
SETTINGS = {
    "course MLP": [],
    "batch-norm MLP": ["--batch-norm"],
    "course CNN": ["--arch", "cnn"],
    "pixel reader (tfsigns/reader_pixels.json)": ["--config", str(ROOT / "tfsigns" / "reader_pixels.json")],
}


def histories(commit: str, epochs: int, data_dir: str | None) -> dict[str, list]:
    """Each setting's per-epoch costs and then its accuracies, trained from `commit` checked out on
    its own."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp, "tree")
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
                       check=True, capture_output=True)
        try:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            data = data_dir or os.environ.get("TFSIGNS_DATA") or ROOT / "data"
            env["TFSIGNS_DATA"] = str(Path(data).resolve())
            found = [sys.executable, "-c", "import tfsigns; print(tfsigns.__file__)"]
            where = subprocess.run(found, cwd=tree, env=env, capture_output=True, text=True, check=True)
            where = where.stdout.strip()
            if not Path(where).resolve().is_relative_to(tree.resolve()):
                raise SystemExit(f"{commit}: tfsigns was imported from {where}, not from its checkout")
            costs = {}
            for name, flags in SETTINGS.items():
                out = Path(tmp, "runs", str(len(costs)))
                done = subprocess.run([sys.executable, "-m", "tfsigns.train", *flags, "--epochs", str(epochs),
                                       "--no-test", "--quiet", "--out", str(out)], cwd=tree, env=env,
                                      capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{commit}, {name}: tfsigns.train failed\n{done.stderr}")
                metrics = json.loads((out / "metrics.json").read_text())
                costs[name] = metrics["costs"] + [metrics["accuracy"]]
            return costs
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the commit before the change")
    parser.add_argument("--after", default="HEAD", help="the commit after it (default: HEAD)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", help="default: $TFSIGNS_DATA, else the project's data/")
    args = parser.parse_args()
    before = histories(args.before, args.epochs, args.data_dir)
    after = histories(args.after, args.epochs, args.data_dir)
    same = True
    for name in SETTINGS:
        equal = before[name] == after[name]
        same &= equal
        print(f"{name}: {'equal' if equal else 'DIFFERENT'}\n  {args.before}: {before[name]}\n"
              f"  {args.after}: {after[name]}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
