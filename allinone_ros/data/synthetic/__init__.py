"""Seeded synthetic vision-language tracking sequences seen from a drone, in LaSOT layout.

Each sequence is a top-down procedural scene (``fields``, ``roads`` or ``urban`` texture)
with one target (a ``car``, ``circle``, ``triangle``, ``cross``, ``diamond`` or ``star`` in one
of eight colours), distractors that share its shape or colour, camera motion (the background
pans), smooth target motion, scale change, a tree or cloud passing over the target (partial or
full occlusion) and an out-of-view spell (the target leaves the frame and comes back). A
sentence describes the target in the first frame, e.g. ``"the red car left of the blue car"``
or ``"the yellow triangle at the top"``; it always contains ``"<colour> <shape>"``.

Written layout (what :func:`allinone_ros.data.sequence.read_sequence_dir` reads)::

    <root>/<class_name>/<class_name>-<k>/img/00000001.jpg ...
                                      /groundtruth.txt     x,y,w,h per frame
                                      /nlp.txt             the sentence
                                      /full_occlusion.txt  one line of comma-separated 0/1
                                      /out_of_view.txt     one line of comma-separated 0/1
                                      /meta.json           colours, shapes, full tracks

Ground-truth convention: ``groundtruth.txt`` holds the target's axis-aligned box (the bounds
of its drawn polygon) clipped to the frame ``[0, W] x [0, H]``, two decimals. When less than
one pixel of it is left (width or height < 1 after clipping) the target is *out of view*: the
frame's ``out_of_view`` flag is 1 and its box is written ``0,0,0,0`` (as TNL2K / WebUAV-3M mark
absence; LaSOT keeps a box and relies on the flag -- readers treat both as invisible). A frame
whose in-frame target pixels are all covered by the occluder has ``full_occlusion`` 1 and keeps
its (clipped) box. ``meta.json`` keeps the unclipped tracks of the target and of every
distractor (``track_xywh``), so a sentence naming a distractor can be scored too.

Determinism: sequence ``k`` (1-based, directory ``<class>-<k>``) draws everything from
``numpy.random.SeedSequence(entropy=seed, spawn_key=(k,))``, so it does not depend on how many
sequences are generated. The same seed and configuration give byte-identical files on the
same platform and library versions (OpenCV's JPEG encoder, libjpeg-turbo, is deterministic;
different OpenCV/numpy builds may differ in the last bits of resized noise or JPEG bytes).
"""

from __future__ import annotations

from .background import fractal_noise, make_background
from .config import (
    ABSENCE_KINDS, BACKGROUNDS, COLOURS_RGB, DISTRACTOR_KINDS, LOOKALIKE_KINDS, MIN_FRAMES_OCCLUSION,
    MIN_FRAMES_OUT_OF_VIEW, MIN_TARGET_PX,
    SCALE_RANGE, SHAPE_RADIUS, SHAPES, SyntheticConfig, sequence_rng, variant_rng,
)
from .geometry import (
    UNIT_POLYGONS, clip_box_to_frame, is_out_of_view, place_polygon, polygon_box_xywh, smooth_signal,
)
from .plan import plan_sequence
from .scene import Occluder, SceneObject, SyntheticSequence
from .sentences import describe_object, plain_description
from .writing import ObjectTrack, PathLike, generate_dataset, scene_objects, write_sequence

__all__ = [
    "ABSENCE_KINDS", "LOOKALIKE_KINDS", "variant_rng", "BACKGROUNDS", "COLOURS_RGB", "DISTRACTOR_KINDS",
    "MIN_FRAMES_OCCLUSION", "MIN_FRAMES_OUT_OF_VIEW",
    "MIN_TARGET_PX", "SCALE_RANGE", "SHAPE_RADIUS", "SHAPES", "UNIT_POLYGONS", "ObjectTrack", "Occluder", "PathLike",
    "SceneObject", "SyntheticConfig", "SyntheticSequence", "clip_box_to_frame", "describe_object", "fractal_noise",
    "generate_dataset", "is_out_of_view", "make_background", "place_polygon", "plain_description", "plan_sequence",
    "polygon_box_xywh", "scene_objects", "sequence_rng", "smooth_signal", "write_sequence",
]
