"""`python -m tfsigns.robustness`: how a finished run holds up on photos taken otherwise
(tfsigns.images.shifts).

The command's entry; its code is tfsigns.reader.robustness (docs/architecture.md draws the layers).
"""

import sys

from tfsigns.reader.robustness import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
