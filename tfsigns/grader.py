"""The exercises' grader, for learners and for instructors.

In a notebook (tfsigns.grading.grader):

    from tfsigns.grader import grade, grade_all
    grade("one_hot_matrix", one_hot_matrix)   # prints "one_hot_matrix: PASS", or FAIL with reasons
    grade_all(globals())                      # every exercise the notebook defines

A class: `python -m tfsigns.grader SUBMISSION.ipynb... --out DIR` (tfsigns.grading.classroom).
"""

import sys

from tfsigns.grading.grader import ASSIGNMENTS, grade, grade_all, grade_lines

__all__ = ["ASSIGNMENTS", "grade", "grade_all", "grade_lines"]

if __name__ == "__main__":
    from tfsigns.grading.classroom import main  # a class's grading, in the grader's own process

    sys.exit(main())
