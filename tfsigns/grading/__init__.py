"""The exercises' grader: grade() and the assignments (grader), their exercises (exercises,
exercises_cnn), how a candidate is run, compared and reported (checks), its answers carried as data
(answers), the wording (feedback), the inputs and typical mistakes (mistakes, mistakes_cnn), and a
class graded in sandboxed processes (classroom, behind `python -m tfsigns.grader`)."""
