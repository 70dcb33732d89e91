"""Training a network and reading it back: the training graph every family shares (graph), K
configurations in one graph (population), augmentation as graph ops (augment), checkpoints
(checkpoint) and run folders (runs), the session loop (trainer), prediction (inference), a run
watched as it goes (monitor), and the train command's code (train, behind `python -m tfsigns.train`)."""
