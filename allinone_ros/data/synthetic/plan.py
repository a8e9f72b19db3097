"""Planning one sequence: background, camera, target path, distractors, occluder, flags, sentence."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .background import make_background
from .config import (
    COLOURS_RGB, DISTRACTOR_KINDS, MIN_TARGET_PX, SCALE_RANGE, SHAPE_RADIUS, SyntheticConfig, absence_ramp,
    sequence_rng,
)
from .geometry import _headings, _smoothstep, smooth_signal
from .scene import Occluder, SceneObject, SyntheticSequence, _target_visible_fraction, object_motion, target_flags
from .sentences import _sentence
from .variants import (
    AbsenceEpisode, absent_sentence, draw_absence, place_lookalikes, relation_sentence, settle_cloud,
    trim_absence,
)

EDGE_NAMES = ("left", "right", "top", "bottom")


def _pick_distractor_look(
    rng: np.random.Generator, kind: str, target: tuple[str, str], shapes: tuple[str, ...], colours: tuple[str, ...],
    taken: set[tuple[str, str]],
) -> tuple[str, str, str]:  # fmt: skip
    """(kind, shape, colour) of a distractor; never identical to the target."""
    t_shape, t_colour = target
    options: dict[str, list[tuple[str, str]]] = {
        "same_shape": [(t_shape, c) for c in colours if c != t_colour],
        "same_colour": [(s, t_colour) for s in shapes if s != t_shape],
        "other": [(s, c) for s in shapes for c in colours if s != t_shape and c != t_colour],
    }
    order = [kind] + [k for k in DISTRACTOR_KINDS if k != kind]
    for candidate_kind in order:
        pool = [look for look in options[candidate_kind] if look not in taken] or options[candidate_kind]
        if pool:
            shape, colour = pool[int(rng.integers(len(pool)))]
            return candidate_kind, shape, colour
    shape, colour = next((s, c) for s in shapes for c in colours if (s, c) != target)
    return "other", shape, colour


def _round_list(values: np.ndarray, digits: int = 3) -> list[Any]:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


# --------------------------------------------------------------------------- planning steps


def _plan_camera(
    rng: np.random.Generator, config: SyntheticConfig, background: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame is a window panning over a larger world texture: (world, camera_xy, cam_shift)."""
    n, width, height = config.num_frames, config.frame_width, config.frame_height
    cam_amp = np.array([0.15 * width, 0.15 * height]) if config.camera_motion else np.zeros(2)
    cam_signal = np.stack([smooth_signal(rng, n, (0.2, 1.2)) for _ in range(2)], axis=1)
    margin_world = np.ceil(cam_amp).astype(int) + 1
    camera_xy = np.round(margin_world + cam_amp * cam_signal).astype(int)
    world = make_background(rng, background, height + 2 * int(margin_world[1]), width + 2 * int(margin_world[0]),
                            min(width, height))
    cam_shift = (camera_xy - camera_xy[0]).astype(np.float64)  # world motion seen in the frame is -cam_shift
    return world, camera_xy, cam_shift


def _plan_target_path(
    rng: np.random.Generator, config: SyntheticConfig
) -> tuple[float, np.ndarray, float, np.ndarray]:
    """Target size and path in frame coordinates: (size0, sizes, half_extent, path)."""
    n, width, height = config.num_frames, config.frame_width, config.frame_height
    short = min(width, height)
    size0 = max(MIN_TARGET_PX, rng.uniform(*config.target_size_range) * short)
    scale_signal = smooth_signal(rng, n, (0.2, 1.0))
    if config.scale_change:
        scale = np.exp(0.5 * math.log(SCALE_RANGE) * (scale_signal - scale_signal[0]))
    else:
        scale = np.ones(n)
    sizes = np.maximum(size0 * scale, MIN_TARGET_PX)
    half_extent = SHAPE_RADIUS * float(sizes.max()) + 2.0
    frame_wh = np.array([width, height], dtype=np.float64)
    room = frame_wh / 2.0 - half_extent
    path_signal = np.stack([smooth_signal(rng, n, (0.3, 1.3)) for _ in range(2)], axis=1)
    amp = rng.uniform(0.2, 0.7, 2) * room if config.target_motion else np.zeros(2)
    centre = frame_wh / 2.0 + rng.uniform(-1.0, 1.0, 2) * (room - amp)
    return size0, sizes, half_extent, centre + amp * path_signal


def leave_frame(path: np.ndarray, t0: int, t1: int, ramp: int, edge: int, half_extent: float, width: int,
                height: int) -> np.ndarray:
    """The path blended out over ``edge`` (0-3: left, right, top, bottom): wholly outside on ``t0..t1``."""
    n = path.shape[0]
    t = np.arange(n, dtype=np.float64)
    blend = np.where(t < t0, _smoothstep((t - (t0 - ramp)) / ramp), 1.0)
    blend = np.where(t > t1, _smoothstep((t1 + ramp - t) / ramp), blend)
    outside = path.copy()
    beyond = half_extent + 2.0
    if edge == 0:
        outside[:, 0] = -beyond
    elif edge == 1:
        outside[:, 0] = width + beyond
    elif edge == 2:
        outside[:, 1] = -beyond
    else:
        outside[:, 1] = height + beyond
    return (1.0 - blend[:, None]) * path + blend[:, None] * outside


def _random_out_of_view(n: int, spell_u: np.ndarray) -> tuple[int, int, int]:
    """(t0, t1, ramp) of the random out-of-view spell from its two uniform draws."""
    ramp = max(3, round(0.08 * n))
    duration = max(2, round((0.06 + 0.09 * spell_u[0]) * n))
    lo = max(ramp + 1, round(0.4 * n))
    hi = max(lo, n - 1 - ramp - duration)
    t0 = lo + int(spell_u[1] * (hi - lo + 1))
    return t0, t0 + duration - 1, ramp


def _make_target(shape: str, colour: str, path: np.ndarray, sizes: np.ndarray, cam_shift: np.ndarray,
                 angle0: float, spin: float) -> SceneObject:
    n = path.shape[0]
    angles = _headings(path + cam_shift, angle0) if shape == "car" else angle0 + spin * np.arange(n)
    return SceneObject("target", shape, colour, path, sizes, angles)


def _plan_distractors(
    rng: np.random.Generator, config: SyntheticConfig, target: SceneObject, size0: float, cam_shift: np.ndarray
) -> list[SceneObject]:
    """The usual distractors: the first one sits next to the target in frame 0 (the sentence may name it)."""
    frame_wh = np.array([config.frame_width, config.frame_height], dtype=np.float64)
    path = target.centers_xy
    num_distractors = int(rng.integers(config.num_distractors_range[0], config.num_distractors_range[1] + 1))
    kinds: list[str] = ["same_shape"] if config.same_shape_distractor else []
    num_distractors = max(num_distractors, len(kinds))
    while len(kinds) < num_distractors:
        kinds.append(DISTRACTOR_KINDS[int(rng.integers(len(DISTRACTOR_KINDS)))])
    distractors: list[SceneObject] = []
    taken: set[tuple[str, str]] = set()
    placed: list[tuple[np.ndarray, float]] = [(path[0], size0)]
    for i, wanted in enumerate(kinds):
        kind, shape, colour = _pick_distractor_look(
            rng, wanted, (target.shape, target.colour), config.shapes, config.colours, taken
        )
        taken.add((shape, colour))
        d_size = max(MIN_TARGET_PX, size0 * rng.uniform(0.8, 1.25))
        d_margin = SHAPE_RADIUS * d_size + 2.0
        low = np.array([d_margin, d_margin])
        high = frame_wh - d_margin
        start = None
        if i == 0:
            directions = np.array([(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)])
            distance = rng.uniform(1.6, 2.6) * max(size0, d_size)
            for k in rng.permutation(4):
                candidate = path[0] + directions[k] * distance
                if np.all(candidate >= low) and np.all(candidate <= high):
                    start = candidate
                    break
        for _ in range(40):
            if start is not None:
                break
            candidate = rng.uniform(low, high)
            if all(np.linalg.norm(candidate - p) > 0.9 * (s + d_size) for p, s in placed):
                start = candidate
        if start is None:
            start = rng.uniform(low, high)
        placed.append((start, d_size))
        distractors.append(object_motion(rng, config, kind, shape, colour, start, d_size, cam_shift))
    return distractors


def _plan_occluder(
    rng: np.random.Generator, config: SyntheticConfig, target: SceneObject, cam_shift: np.ndarray,
    out_spell: tuple[int, int] | None, do_occlusion: bool,
) -> tuple[tuple[Occluder, ...], dict[str, Any] | None]:  # fmt: skip
    """A tree (fixed in the world) over the target around frame tc if frame 0 stays clear, otherwise
    a cloud crossing the target fast enough to leave frame 0 uncovered."""
    n, width, height = config.num_frames, config.frame_width, config.frame_height
    path, sizes = target.centers_xy, target.sizes
    occ_u = rng.random(3)
    if not do_occlusion:
        return (), None
    tc_hi = round(0.4 * n) if out_spell is None else min(round(0.4 * n), out_spell[0] - max(3, round(0.08 * n)) - 1)
    tc_lo = max(2, round(0.15 * n))
    tc = tc_lo + int(occ_u[0] * (max(tc_lo, tc_hi) - tc_lo + 1))
    radius = float(sizes[tc]) * (0.7 + 0.8 * occ_u[1])
    m = int(rng.integers(4, 8))
    offsets = rng.normal(0.0, 0.3, (m, 2)) * radius
    offsets[0] = 0.0
    radii = radius * rng.uniform(0.35, 0.6, m)
    radii[0] = radius * 0.6
    circles = np.column_stack((offsets, radii))
    shades = rng.uniform(0.8, 1.2, m)
    tree_centres = path[tc] + cam_shift[tc] - cam_shift
    tree = Occluder("tree", tree_centres, circles, shades)
    if _target_visible_fraction(target, (tree,), 0, width, height) >= 1.0:
        occluders: tuple[Occluder, ...] = (tree,)
    else:
        reach = float(np.abs(circles[:, :2]).max() + circles[:, 2].max()) + SHAPE_RADIUS * float(sizes.max())
        angle = 2.0 * math.pi * occ_u[2]
        direction = np.array([math.cos(angle), math.sin(angle)])
        speed = 1.2 * (reach + 2.0) / tc
        # The cloud crosses the target at constant relative velocity: centred on it at tc and
        # more than its reach away at frame 0.
        relative = direction * speed * (np.arange(n) - tc)[:, None]
        occluders = (Occluder("cloud", path + relative, circles, shades),)
    return occluders, {"kind": occluders[0].kind, "peak_frame": tc}


# --------------------------------------------------------------------------- planning


def plan_sequence(config: SyntheticConfig, number: int) -> SyntheticSequence:
    """Plan sequence ``number`` (1-based) of ``config``; frames are rendered by ``render_frame``."""
    rng = sequence_rng(config.seed, number)
    n, width, height = config.num_frames, config.frame_width, config.frame_height
    name = f"{config.class_name}-{number}"

    # Decisions first, always in the same order, so each stream position has one meaning.
    background = config.backgrounds[int(rng.integers(len(config.backgrounds)))]
    do_occlusion = bool(rng.random() < config.occlusion_prob)
    do_out_of_view = bool(rng.random() < config.out_of_view_prob)
    t_shape = config.shapes[int(rng.integers(len(config.shapes)))]
    t_colour = config.colours[int(rng.integers(len(config.colours)))]
    episode: AbsenceEpisode | None = draw_absence(config, number) if config.absence else None
    if episode is not None:  # the forced episode replaces the random spells (their draws still happen)
        do_occlusion = do_out_of_view = False

    world, camera_xy, cam_shift = _plan_camera(rng, config, background)
    size0, sizes, half_extent, path = _plan_target_path(rng, config)
    edge = int(rng.integers(4))
    spell_u = rng.random(2)
    target_angle0 = float(rng.uniform(-math.pi, math.pi))
    spin = float(rng.uniform(-0.03, 0.03))
    out_spell: tuple[int, int] | None = None
    if do_out_of_view:
        t0, t1, ramp = _random_out_of_view(n, spell_u)
        path = leave_frame(path, t0, t1, ramp, edge, half_extent, width, height)
        out_spell = (t0, t1)
    base_path = path
    if episode is not None and episode.kind == "out_of_view":
        def leaving(plateau: int) -> tuple[SceneObject, tuple[Occluder, ...]]:
            t1 = episode.start + plateau - 1
            moved = leave_frame(base_path, episode.start, t1, absence_ramp(n), episode.edge, half_extent, width, height)
            return _make_target(t_shape, t_colour, moved, sizes, cam_shift, target_angle0, spin), ()

        target, _, episode = trim_absence(episode, leaving, width, height)
        out_spell, edge = episode.frames, episode.edge
    else:
        target = _make_target(t_shape, t_colour, path, sizes, cam_shift, target_angle0, spin)

    distractors = _plan_distractors(rng, config, target, size0, cam_shift)
    lookalike_kind, lookalikes = (place_lookalikes(config, number, target, size0, distractors, cam_shift)
                                  if config.lookalike_kinds else ("", []))
    occluders, occ_meta = _plan_occluder(rng, config, target, cam_shift, out_spell, do_occlusion)
    if episode is not None and episode.kind == "occlusion":
        def covered(plateau: int) -> tuple[SceneObject, tuple[Occluder, ...]]:
            return target, (settle_cloud(episode, target, plateau),)

        _, occluders, episode = trim_absence(episode, covered, width, height)
        occ_meta = {"kind": "cloud", "peak_frame": episode.start}

    true_boxes, boxes, out_of_view, full_occlusion, visible_fraction = target_flags(target, occluders, width, height)
    if out_of_view[0] or full_occlusion[0] or visible_fraction[0] < 1.0:
        raise RuntimeError(f"{name}: internal error, the target is not fully visible in the first frame")

    related = lookalikes[0] if lookalikes else (distractors[0] if distractors else None)
    if config.relation_sentence and related is not None:
        sentence = relation_sentence(target, related)
    else:
        sentence = _sentence(rng, target, related, width, height)
    everyone = [*distractors, *lookalikes]
    meta = _sequence_meta(config, name, number, background, sentence, target, true_boxes, everyone,
                          everyone.index(related) if related is not None else None, occ_meta,
                          {"edge": EDGE_NAMES[edge], "frames": list(out_spell)} if out_spell is not None else None,
                          visible_fraction)
    if lookalikes:
        meta["lookalikes"] = {"kind": lookalike_kind,
                              "distractors": list(range(len(distractors), len(everyone)))}
    if episode is not None:
        absent = np.flatnonzero(out_of_view | full_occlusion)
        meta["phenomena"]["absence"] = {"kind": episode.kind, "frames": [int(absent.min()), int(absent.max())],
                                        "length": int(absent.size), "requested_length": episode.length}
    if config.absent_sentence:
        meta["target_sentence"] = sentence
        sentence, named = absent_sentence(config, number, target, everyone)
        meta.update(sentence=sentence, absent_sentence=True, sentence_names=named)
    return SyntheticSequence(
        name=name, number=number, width=width, height=height, world=world, camera_xy=camera_xy, target=target,
        distractors=tuple(everyone), occluders=occluders, boxes_xywh=boxes, out_of_view=out_of_view,
        full_occlusion=full_occlusion, visible_fraction=visible_fraction, sentence=sentence, meta=meta,
    )


def _sequence_meta(
    config: SyntheticConfig, name: str, number: int, background: str, sentence: str, target: SceneObject,
    true_boxes: np.ndarray, distractors: list[SceneObject], related: int | None, occ_meta: dict[str, Any] | None,
    oov_meta: dict[str, Any] | None, visible_fraction: np.ndarray,
) -> dict[str, Any]:  # fmt: skip
    n = config.num_frames
    return {
        "format_version": 1,
        "name": name,
        "number": number,
        "seed": config.seed,
        "frame_size_wh": [config.frame_width, config.frame_height],
        "num_frames": n,
        "background": background,
        "sentence": sentence,
        "target": _object_meta(target, true_boxes),
        "distractors": [
            _object_meta(d, np.stack([d.box_xywh(t) for t in range(n)])) for d in distractors
        ],
        "related_distractor": related,
        "phenomena": {
            "camera_motion": config.camera_motion,
            "target_motion": config.target_motion,
            "scale_change": config.scale_change,
            "occlusion": occ_meta,
            "out_of_view": oov_meta,
        },
        "target_visible_fraction": _round_list(visible_fraction, 4),
        "conventions": {
            "frames": "0-based indices here; img/%08d.jpg files are 1-based",
            "groundtruth": "box_xywh clipped to [0,W]x[0,H]; 0,0,0,0 and out_of_view=1 when < 1 px is in view",
            "track_xywh": "unclipped polygon bounds, frame pixels",
        },
    }


def _object_meta(obj: SceneObject, track_xywh: np.ndarray) -> dict[str, Any]:
    return {
        "role": obj.role,
        "shape": obj.shape,
        "colour": obj.colour,
        "colour_rgb": list(COLOURS_RGB[obj.colour]),
        "track_xywh": _round_list(track_xywh, 3),
    }
