"""Optional scene variants, each drawn from its own random stream (:func:`~.config.variant_rng`).

Look-alikes next to the target, a forced relational sentence, a sentence naming an object the
scene lacks, and a forced absence episode (the target fully occluded or out of view for a
configurable number of frames in the middle of the sequence). With none of them switched on,
the generator's output is unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import COLOURS_RGB, MIN_TARGET_PX, SHAPE_RADIUS, SHAPES, SyntheticConfig, absence_ramp, variant_rng
from .scene import Occluder, SceneObject, object_motion, target_flags
from .sentences import _relation, describe_object

# --------------------------------------------------------------------------- look-alikes


def _lookalike_looks(rng: np.random.Generator, kind: str, target: SceneObject, config: SyntheticConfig,
                     taken: set[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(role, shape, colour) of the look-alikes of one ``kind``; looks not yet in the scene first."""
    same_shape = [(target.shape, c) for c in config.colours if c != target.colour]
    same_colour = [(s, target.colour) for s in config.shapes if s != target.shape]
    if kind == "mixed":  # one of each, and a third of either kind two times in three
        extra = int(rng.integers(3))
        roles = ["same_shape", "same_colour"] + [["same_shape", "same_colour"][extra - 1]] * (extra > 0)
    else:
        roles = [kind]
    looks = []
    for role in roles:
        options = same_shape if role == "same_shape" else same_colour
        pool = [look for look in options if look not in taken] or options
        shape, colour = pool[int(rng.integers(len(pool)))]
        taken.add((shape, colour))
        looks.append((role, shape, colour))
    return looks


def _place_near(rng: np.random.Generator, anchor: np.ndarray, size0: float, d_size: float,
                placed: list[tuple[np.ndarray, float]], frame_wh: np.ndarray) -> np.ndarray:
    """A frame-0 centre 1.6-4.4 sizes from ``anchor`` that overlaps no placed object (else anywhere free)."""
    margin = SHAPE_RADIUS * d_size + 2.0
    low, high = np.array([margin, margin]), frame_wh - margin

    def free(c: np.ndarray) -> bool:
        return bool(np.all(c >= low) and np.all(c <= high)
                    and all(np.linalg.norm(c - p) > 0.9 * (s + d_size) for p, s in placed))

    for attempt in range(90):  # 1.6-2.8 sizes away, then up to 4.4 when there is no room
        angle = rng.uniform(-math.pi, math.pi)
        far = 2.8 + 1.6 * attempt / 89
        c = anchor + np.array([math.cos(angle), math.sin(angle)]) * rng.uniform(1.6, far) * max(size0, d_size)
        if free(c):
            return c
    for _ in range(60):
        c = rng.uniform(low, high)
        if free(c):
            return c
    return rng.uniform(low, high)


def place_lookalikes(config: SyntheticConfig, number: int, target: SceneObject, size0: float,
                     distractors: list[SceneObject], cam_shift: np.ndarray) -> tuple[str, list[SceneObject]]:
    """The kind drawn from ``config.lookalike_kinds`` and its look-alikes, next to the target."""
    rng = variant_rng(config.seed, number, "lookalikes")
    kind = config.lookalike_kinds[int(rng.integers(len(config.lookalike_kinds)))]
    taken = {(d.shape, d.colour) for d in distractors}
    placed = [(target.centers_xy[0], size0)] + [(d.centers_xy[0], float(d.sizes[0])) for d in distractors]
    frame_wh = np.array([config.frame_width, config.frame_height], dtype=np.float64)
    out = []
    for role, shape, colour in _lookalike_looks(rng, kind, target, config, taken):
        d_size = max(MIN_TARGET_PX, size0 * rng.uniform(0.8, 1.25))
        start = _place_near(rng, target.centers_xy[0], size0, d_size, placed, frame_wh)
        placed.append((start, d_size))
        out.append(object_motion(rng, config, role, shape, colour, start, d_size, cam_shift))
    return kind, out


# --------------------------------------------------------------------------- sentences


def relation_sentence(target: SceneObject, related: SceneObject) -> str:
    """``"the <colour> <shape> <relation> the <colour> <shape>"`` in the first frame."""
    relation = _relation(np.asarray(target.centers_xy[0]), np.asarray(related.centers_xy[0]))
    return f"the {target.colour} {target.shape} {relation} the {related.colour} {related.shape}"


def absent_sentence(config: SyntheticConfig, number: int, target: SceneObject,
                    distractors: list[SceneObject]) -> tuple[str, dict[str, str]]:
    """A sentence naming a colour/shape combination no object of the scene has, and that combination.

    Preferably a near miss of the target (its shape in a missing colour, or its colour on a
    missing shape, within the configured vocabulary); it may relate to an object of the scene or
    give the target's position.
    """
    rng = variant_rng(config.seed, number, "absent_sentence")
    present = {(target.shape, target.colour)} | {(d.shape, d.colour) for d in distractors}
    options = [(target.shape, c) for c in config.colours if (target.shape, c) not in present]
    options += [(s, target.colour) for s in config.shapes if (s, target.colour) not in present]
    if not options:  # a tiny vocabulary: any combination the scene lacks
        options = [(s, c) for s in SHAPES for c in COLOURS_RGB if (s, c) not in present]
    shape, colour = options[int(rng.integers(len(options)))]
    related = distractors[int(rng.integers(len(distractors)))] if distractors else None
    other = (related.shape, related.colour, related.centers_xy[0]) if related is not None else None
    sentence = describe_object(rng, shape, colour, target.centers_xy[0], other, config.frame_width,
                               config.frame_height)
    return sentence, {"shape": shape, "colour": colour}


# --------------------------------------------------------------------------- absence episodes


@dataclass(frozen=True)
class AbsenceEpisode:
    """A forced absence: ``kind`` from frame ``start`` for ``length`` frames (``plateau``: frames
    of the geometric plateau that give that many absent frames)."""

    kind: str  # "occlusion" or "out_of_view"
    length: int  # requested number of absent frames
    start: int
    plateau: int
    edge: int  # out_of_view: 0-3 left, right, top, bottom
    cloud_circles: np.ndarray  # (m, 3) offsets and radii in units of the central radius
    cloud_shades: np.ndarray  # (m,)
    cloud_angle: float  # direction the cloud comes from and leaves to

    @property
    def frames(self) -> tuple[int, int]:
        return self.start, self.start + self.plateau - 1


def draw_absence(config: SyntheticConfig, number: int) -> AbsenceEpisode:
    """Kind, length and start of the forced absence of sequence ``number`` (same draws every time)."""
    rng = variant_rng(config.seed, number, "absence")
    n, ramp = config.num_frames, absence_ramp(config.num_frames)
    kind = config.absence_kinds[int(rng.integers(len(config.absence_kinds)))]
    length = int(rng.integers(config.absence_frames[0], config.absence_frames[1] + 1))
    centred = (n - length) // 2
    jitter = max(0, min(round(0.1 * n), centred - ramp - 2, n - centred - length - ramp - 2))
    start = centred + int(rng.integers(-jitter, jitter + 1))
    edge = int(rng.integers(4))
    m = int(rng.integers(3, 6))
    offsets = rng.normal(0.0, 0.35, (m, 2))
    offsets[0] = 0.0
    radii = rng.uniform(0.5, 0.8, m)
    radii[0] = 1.0
    shades = rng.uniform(0.8, 1.2, m)
    angle = float(rng.uniform(0.0, 2.0 * math.pi))
    return AbsenceEpisode(kind, length, start, length, edge, np.column_stack((offsets, radii)), shades, angle)


def settle_cloud(episode: AbsenceEpisode, target: SceneObject, plateau: int) -> Occluder:
    """An opaque cloud that drifts onto the target, stays on it for ``plateau`` frames and drifts off.

    Its central circle covers the target's largest extent (plus 3 px), so the target is fully
    hidden while the cloud sits on it; it is more than its reach away in frame 0.
    """
    n = target.centers_xy.shape[0]
    core = SHAPE_RADIUS * float(target.sizes.max()) + 3.0
    circles = episode.cloud_circles * core
    reach = float(np.abs(circles[:, :2]).max() + circles[:, 2].max()) + SHAPE_RADIUS * float(target.sizes.max())
    speed = 1.2 * (reach + 2.0) / absence_ramp(n)
    t = np.arange(n, dtype=np.float64)
    t0, t1 = episode.start, episode.start + plateau - 1
    lag = np.where(t < t0, t - t0, np.where(t > t1, t - t1, 0.0))
    direction = np.array([math.cos(episode.cloud_angle), math.sin(episode.cloud_angle)])
    return Occluder("cloud", target.centers_xy + direction * speed * lag[:, None], circles, episode.cloud_shades)


def _absent_run(target: SceneObject, occluders: tuple[Occluder, ...], start: int, width: int,
                height: int) -> int:
    """Length of the run of absent frames (out of view or fully occluded) that contains ``start``."""
    _, _, out_of_view, full_occlusion, _ = target_flags(target, occluders, width, height)
    absent = out_of_view | full_occlusion
    if not absent[start]:
        return 0
    lo, hi = start, start
    while lo > 0 and absent[lo - 1]:
        lo -= 1
    while hi + 1 < absent.size and absent[hi + 1]:
        hi += 1
    return hi - lo + 1


def trim_absence(
    episode: AbsenceEpisode, build: Callable[[int], tuple[SceneObject, tuple[Occluder, ...]]], width: int,
    height: int,
) -> tuple[SceneObject, tuple[Occluder, ...], AbsenceEpisode]:  # fmt: skip
    """Adjust the plateau so that the absent run has the requested length (entry and exit frames
    may already be absent); ``build(plateau)`` makes the target and occluders. At most 6 tries,
    keeping the closest (the written flags are always the geometry's)."""
    best: tuple[int, int, SceneObject, tuple[Occluder, ...]] | None = None
    plateau = episode.length
    for _ in range(6):
        target, occluders = build(plateau)
        run = _absent_run(target, occluders, episode.start, width, height)
        if best is None or abs(run - episode.length) < best[0]:
            best = (abs(run - episode.length), plateau, target, occluders)
        if run == episode.length:
            break
        plateau = max(1, plateau + episode.length - run)
    _, plateau, target, occluders = best
    return target, occluders, dataclasses.replace(episode, plateau=plateau)
