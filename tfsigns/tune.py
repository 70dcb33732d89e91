"""`python -m tfsigns.tune`: hyperparameter search as the lecture teaches it (random on the
right scale, coarse-to-fine, caviar).

The command's entry; its code is tfsigns.search.tune (docs/architecture.md draws the layers).
"""

import signal
import sys

from tfsigns.search.tune import SearchSettings, main, plot_search, search

__all__ = ["SearchSettings", "main", "plot_search", "search"]

if __name__ == "__main__":
    # Ctrl-C (SIGINT) stops the search even where the shell started it with SIGINT ignored, as
    # a script's background job is (Python then leaves it ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
