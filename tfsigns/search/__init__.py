"""Hyperparameter search as the lecture teaches it: the space and its draws on the right scales
(space), where trials run (executors: processes, Ray, populations), and the tune command's code
(tune, behind `python -m tfsigns.tune`)."""
