"""The hand model as tfsigns loads it: MediaPipe's files of one complexity (full or lite), found and
checked against their SHA-256 (tfsigns.hands.files), run by the pipeline of tfsigns.portable.hands."""

from __future__ import annotations

import os

from tfsigns.hands.files import digests, model_paths
from tfsigns.portable import hands


class HandModel(hands.HandModel):
    """The palm detector and landmark model of `complexity`, verified: `paths` {"palm", "landmark": path},
    `sha256` {file name: SHA-256}. ModelError when the files are missing or not the expected ones."""

    def __init__(self, complexity: str = "full", models_dir: str | os.PathLike | None = None,
                 threshold: float = hands.PRESENCE_THRESHOLD):
        paths = model_paths(complexity, models_dir)
        super().__init__(paths["palm"], paths["landmark"], threshold)
        self.complexity, self.paths = complexity, paths
        self.sha256 = digests(paths)
