"""`python -m tfsigns.export`: a finished run as a folder a phone or browser app can run, without tfsigns.

The command's entry; its code is tfsigns.reader.export (docs/architecture.md draws the layers).
"""

import sys

from tfsigns.reader.export import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
