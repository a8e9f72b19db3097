"""Sentences that describe an object of a scene (always containing ``"<colour> <shape>"``)."""

from __future__ import annotations

import numpy as np

from .scene import SceneObject


def _relation(target_xy: np.ndarray, other_xy: np.ndarray) -> str:
    """Spatial relation of the target to another object in image terms ("left of", "above", ...)."""
    dx, dy = other_xy - target_xy
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def _position_phrase(xy: np.ndarray, width: int, height: int) -> str:
    col = min(int(3 * xy[0] / width), 2)
    row = min(int(3 * xy[1] / height), 2)
    vertical, horizontal = ("top", "middle", "bottom")[row], ("left", "centre", "right")[col]
    if row == 1 and col == 1:
        return "in the centre"
    if row == 1:
        return f"on the {horizontal}"
    if col == 1:
        return f"at the {vertical}"
    return f"in the {vertical} {horizontal}"


_PLAIN_TEMPLATES = ("the {c} {s}", "the {c} {s} seen from the drone", "a {c} {s} on the ground")


def describe_object(
    rng: np.random.Generator, shape: str, colour: str, centre_xy: np.ndarray,
    related: tuple[str, str, np.ndarray] | None, width: int, height: int,
) -> str:
    """A sentence for an object at ``centre_xy``; always contains ``"<colour> <shape>"``.

    ``related`` is another object ``(shape, colour, centre_xy)`` that the sentence may name
    ("the red car left of the blue car"); otherwise it gives the position in the frame or none.
    One ``rng.random()`` draw, plus one ``rng.integers`` for a sentence without a position.
    """
    choice = rng.random()
    head = f"the {colour} {shape}"
    if related is not None and choice < 0.45:
        r_shape, r_colour, r_centre = related
        return f"{head} {_relation(np.asarray(centre_xy), np.asarray(r_centre))} the {r_colour} {r_shape}"
    if choice < 0.75:
        return f"{head} {_position_phrase(np.asarray(centre_xy), width, height)}"
    return plain_description(rng, shape, colour)


def plain_description(rng: np.random.Generator, shape: str, colour: str) -> str:
    """A sentence naming only ``"<colour> <shape>"`` (one ``rng.integers`` draw)."""
    return _PLAIN_TEMPLATES[int(rng.integers(len(_PLAIN_TEMPLATES)))].format(c=colour, s=shape)


def _sentence(
    rng: np.random.Generator, target: SceneObject, related: SceneObject | None, width: int, height: int
) -> str:
    """The sequence's sentence: the target described in the first frame."""
    other = (related.shape, related.colour, related.centers_xy[0]) if related is not None else None
    return describe_object(rng, target.shape, target.colour, target.centers_xy[0], other, width, height)
