"""`python -m tfsigns.predict`: the hand sign in your own photos, read by a finished run.

The command's entry; its code is tfsigns.reader.predict (docs/architecture.md draws the layers).
"""

import sys

from tfsigns.reader.predict import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
