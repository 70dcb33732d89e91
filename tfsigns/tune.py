"""`python -m tfsigns.tune`: hyperparameter search as the lecture teaches it (random on the
right scale, coarse-to-fine, caviar).

The command's entry; its code is tfsigns.search.tune (docs/architecture.md draws the layers).
"""

from tfsigns.search.tune import SearchSettings, main, plot_search, run_command, search

__all__ = ["SearchSettings", "main", "plot_search", "search"]

if __name__ == "__main__":
    run_command()
