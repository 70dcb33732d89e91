"""`python -m tfsigns.train`: train on SIGNS and write the run to --out: metrics.json, cost.png, checkpoints/.

The command's entry; its code is tfsigns.training.train (docs/architecture.md draws the layers).
"""

import sys

from tfsigns.training.train import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
