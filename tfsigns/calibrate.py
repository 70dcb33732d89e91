"""`python -m tfsigns.calibrate`: teach a reader a new hand or camera from a few photos of each sign.

The command's entry; its code is tfsigns.reader.calibrate (docs/architecture.md draws the layers).
"""

import sys

from tfsigns.reader.calibrate import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
