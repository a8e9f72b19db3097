"""The shipped built-in grounder tells shape at equal colour and colour at equal shape, and refuses
a sentence whose object is not in the picture.

Scenes are planned by the test with the synthetic generator (seeds never used in training or
validation) and only their first frame is rendered, in memory. The discrimination checks ask for
the best candidate (whatever its score) to be on the named object -- the target for the target's
sentence, the look-alike for the look-alike's -- in at least 5 of 6 scenes each; the refusal check
asks that no candidate reaches :data:`RECOMMENDED_GROUND_THRESHOLD` in at least 5 of 6. The
held-out rates (30 sequences per kind) are measured by ``scripts/eval_grounder.py``.
"""
from __future__ import annotations

import numpy as np
import pytest

from allinone_ros.data.synthetic import SyntheticConfig, clip_box_to_frame, plan_sequence
from allinone_ros.grounding import GrounderConfig
from allinone_ros.grounding.builtin import RECOMMENDED_GROUND_THRESHOLD, BuiltinGrounder
from allinone_ros.ops.iou import box_iou_xywh

SCENES = 6


@pytest.fixture(scope="module")
def grounder() -> BuiltinGrounder:
    return BuiltinGrounder.from_checkpoint(None, GrounderConfig(score_threshold=0.0))


def _scenes(seed: int, **options: object):
    cfg = SyntheticConfig(num_frames=2, seed=seed, occlusion_prob=0.0, out_of_view_prob=0.0, **options)
    for number in range(1, SCENES + 1):
        seq = plan_sequence(cfg, number)
        yield seq, seq.render_frame(0)


def _starts_on(grounder: BuiltinGrounder, frame: np.ndarray, sentence: str, box_xywh: np.ndarray) -> bool:
    found = grounder.ground(frame, sentence)
    return bool(found) and box_iou_xywh(found[0].box_xywh, box_xywh) > 0.5


@pytest.mark.parametrize(("kind", "seed"), [("same_colour", 8101), ("same_shape", 8102)])
def test_the_target_and_its_lookalike_are_told_apart(grounder: BuiltinGrounder, kind: str, seed: int) -> None:
    on_target = on_lookalike = 0
    for seq, frame in _scenes(seed, lookalike_kinds=(kind,)):
        target = seq.target
        lookalike = seq.distractors[seq.meta["lookalikes"]["distractors"][0]]
        assert lookalike.role == kind
        if kind == "same_colour":
            assert lookalike.colour == target.colour and lookalike.shape != target.shape
        else:
            assert lookalike.shape == target.shape and lookalike.colour != target.colour
        on_target += _starts_on(grounder, frame, f"the {target.colour} {target.shape}", seq.boxes_xywh[0])
        lookalike_box = clip_box_to_frame(lookalike.box_xywh(0), seq.width, seq.height)
        on_lookalike += _starts_on(grounder, frame, f"the {lookalike.colour} {lookalike.shape}", lookalike_box)
    assert on_target >= SCENES - 1 and on_lookalike >= SCENES - 1, (on_target, on_lookalike)


def test_a_sentence_naming_an_absent_object_is_refused(grounder: BuiltinGrounder) -> None:
    refused = 0
    for seq, frame in _scenes(8105, lookalike_kinds=("same_shape", "same_colour", "mixed"), absent_sentence=True):
        named = seq.meta["sentence_names"]
        scene = {(o.colour, o.shape) for o in (seq.target, *seq.distractors)}
        assert (named["colour"], named["shape"]) not in scene
        found = grounder.ground(frame, seq.sentence)
        refused += not found or found[0].score < RECOMMENDED_GROUND_THRESHOLD
    assert refused >= SCENES - 1, refused
