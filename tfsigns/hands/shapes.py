"""Hand shapes made up finger by finger, from which a landmark reader learns "a sign I don't know".

A network trained on its signs alone names one of them for any hand: shown a 6 (three fingers up, the
thumb on the little finger), the six-sign reader said 4 with p >= 0.9. So a reader with an unknown class
learns it from shapes none of its signs has: a hand of one of its examples with one or two fingers raised
or folded, each such finger taken from another example where it is the other way (moved to this hand's
knuckle and scaled to its palm), so that its joints are a real finger's. A shape whose raised fingers
are a pattern that a known sign shows (in a tenth of its examples or more) is left out: it may be that
sign. Nothing here has seen a photo of a sign the reader does not know.

Features are tfsigns.portable.hands' 42: the 21 landmarks' x and y less the wrist's, row-major.
"""

from __future__ import annotations

import numpy as np

# The joints of each finger, knuckle first (MediaPipe's landmark numbering; 0 is the wrist)
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))
FINGER_NAMES = ("thumb", "index", "middle", "ring", "little")
RAISED_REACH = 1.5  # a finger is raised when its tip is this many times as far from the wrist as its knuckle
THUMB_REACH = 1.0  # the thumb is out when its tip is this many palm lengths from the little finger's knuckle
SHOWN = 0.1  # a pattern a sign shows in this share of its examples or more is that sign's


def points(X: np.ndarray) -> np.ndarray:
    """Features (m, 42) as landmarks (m, 21, 2)."""
    return np.asarray(X, np.float32).reshape(-1, 21, 2)


def raised(X: np.ndarray) -> np.ndarray:
    """Which fingers (m, 5) bool each hand of features X (m, 42) raises, thumb first."""
    hand = points(X)
    palm = np.linalg.norm(hand[:, 9], axis=1) + 1e-9  # the wrist to the middle finger's knuckle
    thumb = np.linalg.norm(hand[:, 4] - hand[:, 17], axis=1) / palm > THUMB_REACH
    fingers = [np.linalg.norm(hand[:, tip], axis=1) > RAISED_REACH * np.linalg.norm(hand[:, knuckle], axis=1)
               for knuckle, _, _, tip in FINGERS[1:]]
    return np.stack([thumb, *fingers], axis=1)


def shown_patterns(X: np.ndarray, y: np.ndarray) -> set[tuple[bool, ...]]:
    """The raised-finger patterns that any sign y (m,) shows in SHOWN of its examples X (m, 42) or more."""
    patterns = raised(X)
    shown = set()
    for sign in np.unique(y):
        found, counts = np.unique(patterns[y == sign], axis=0, return_counts=True)
        shown |= {tuple(map(bool, row)) for row in found[counts >= SHOWN * counts.sum()]}
    return shown


def made_up_shapes(X: np.ndarray, y: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` made-up hands (count, 42) float32 from examples X (m, 42) of signs y (m,): one or two fingers
    changed, none in a pattern a sign shows; the same for the same seed. Fewer when too few can be made."""
    rng = np.random.default_rng([seed, 0x5BA9E])
    hand, patterns = points(X), raised(X)
    known = shown_patterns(X, y)
    made: list[np.ndarray] = []
    for _ in range(50):  # rounds of candidates: most rounds keep most of theirs
        if len(made) >= count:
            break
        base = rng.integers(len(hand), size=count)
        shapes = hand[base].copy()
        first = rng.integers(5, size=count)
        second = (first + rng.integers(1, 5, size=count)) % 5  # another finger, for half of the hands
        for fingers, changed in ((first, np.ones(count, bool)), (second, rng.random(count) < 0.5)):
            for finger in range(5):
                rows = np.flatnonzero(changed & (fingers == finger))
                _change_finger(shapes, rows, finger, hand, patterns, rng)
        made += [shape.reshape(-1) for shape, pattern in zip(shapes, raised(shapes.reshape(count, -1)),
                                                              strict=True)
                 if tuple(map(bool, pattern)) not in known]
    return np.array(made[:count], np.float32).reshape(-1, 42)


def _change_finger(shapes: np.ndarray, rows: np.ndarray, finger: int, hand: np.ndarray, patterns: np.ndarray,
                   rng: np.random.Generator) -> None:
    """Give the hands `rows` of shapes (n, 21, 2) the finger `finger` of another example (of hand, whose
    raised fingers are patterns) where it is the other way, at their own knuckle and palm size; in place."""
    joints = list(FINGERS[finger])
    now = raised(shapes[rows].reshape(len(rows), -1))[:, finger] if len(rows) else np.zeros(0, bool)
    for state in (False, True):
        these = rows[now == state]
        donors = np.flatnonzero(patterns[:, finger] != state)
        if not len(these) or not len(donors):
            continue
        donor = hand[rng.choice(donors, size=len(these))]
        scale = np.linalg.norm(shapes[these, 9], axis=1) / (np.linalg.norm(donor[:, 9], axis=1) + 1e-9)
        bent = donor[:, joints[1:]] - donor[:, joints[:1]]
        shapes[these[:, None], joints[1:]] = shapes[these][:, joints[:1]] + bent * scale[:, None, None]
