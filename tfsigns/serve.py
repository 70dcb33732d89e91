"""`python -m tfsigns.serve`: the live reader page: hand signs read from the webcam, in a browser.

The command's entry; its code is tfsigns.reader.serve (docs/architecture.md draws the layers).
"""

import sys

from tfsigns.reader.serve import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
