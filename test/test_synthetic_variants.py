"""Optional synthetic variants: look-alikes, relational and absent-object sentences, forced absences.

Each variant draws from its own random stream, so switching it on must leave the base scene as it
was; what each promises is checked on the written files (flags, meta.json, pixels).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from allinone_ros.cli.make_synthetic import main as make_synthetic_main
from allinone_ros.data.sequence import read_sequence_dir
from allinone_ros.data.synthetic import COLOURS_RGB, SyntheticConfig, generate_dataset, plan_sequence

BASE = SyntheticConfig(num_sequences=6, num_frames=60, frame_width=256, frame_height=160, seed=31,
                       target_size_range=(0.1, 0.12))


def _with(**changes: object) -> SyntheticConfig:
    return SyntheticConfig(**{**BASE.__dict__, **changes})


def _centre(box_xywh: list[float] | np.ndarray) -> np.ndarray:
    x, y, w, h = box_xywh
    return np.array([x + w / 2, y + h / 2])


def _nearest_colour(frame_bgr: np.ndarray, box_xywh: list[float]) -> str:
    cx, cy = (int(round(v)) for v in _centre(box_xywh))
    rgb = frame_bgr[cy - 1: cy + 2, cx - 1: cx + 2, ::-1].reshape(-1, 3).astype(np.float64).mean(axis=0)
    return min(COLOURS_RGB, key=lambda name: float(np.sum((np.asarray(COLOURS_RGB[name]) - rgb) ** 2)))


def _meta(seq_dir: Path) -> dict:
    return json.loads((seq_dir / "meta.json").read_text())


@pytest.mark.parametrize("changes", [{"lookalike_kinds": ("mixed",)}, {"absent_sentence": True},
                                     {"relation_sentence": True}])
def test_a_variant_leaves_the_base_scene_unchanged(changes: dict) -> None:
    for k in (1, 2, 3):
        base, varied = plan_sequence(BASE, k), plan_sequence(_with(**changes), k)
        np.testing.assert_array_equal(base.world, varied.world)
        np.testing.assert_array_equal(base.boxes_xywh, varied.boxes_xywh)
        np.testing.assert_array_equal(base.out_of_view | base.full_occlusion, varied.out_of_view | varied.full_occlusion)
        assert len(varied.distractors) >= len(base.distractors)
        for a, b in zip(base.distractors, varied.distractors):
            assert (a.shape, a.colour) == (b.shape, b.colour)
            np.testing.assert_array_equal(a.centers_xy, b.centers_xy)


@pytest.mark.parametrize("kind", ["same_shape", "same_colour", "mixed"])
def test_lookalikes_of_each_kind_are_drawn_next_to_the_target(kind: str, tmp_path: Path) -> None:
    # room around the target (a crowded corner of a small frame may push one further away)
    config = _with(lookalike_kinds=(kind,), occlusion_prob=0.0, out_of_view_prob=0.0, num_sequences=4,
                   frame_width=400, frame_height=240, num_distractors_range=(1, 1), target_size_range=(0.08, 0.09))
    for seq_dir in generate_dataset(tmp_path, config):
        meta = _meta(seq_dir)
        target = meta["target"]
        assert meta["lookalikes"]["kind"] == kind
        looks = [meta["distractors"][i] for i in meta["lookalikes"]["distractors"]]
        roles = sorted({d["role"] for d in looks})
        assert roles == (["same_colour", "same_shape"] if kind == "mixed" else [kind])
        assert len(looks) == 1 or (kind == "mixed" and 2 <= len(looks) <= 3)
        frame = cv2.imread(str(seq_dir / "img" / "00000001.jpg"))
        t_box = np.asarray(target["track_xywh"][0])
        for d in looks:
            if d["role"] == "same_shape":
                assert d["shape"] == target["shape"] and d["colour"] != target["colour"]
            else:
                assert d["colour"] == target["colour"] and d["shape"] != target["shape"]
            d_box = np.asarray(d["track_xywh"][0])
            assert _nearest_colour(frame, d_box) == d["colour"]  # drawn where meta.json says
            gap = np.linalg.norm(_centre(d_box) - _centre(t_box))
            size = max(t_box[2:].max(), d_box[2:].max())
            assert 0.5 * size < gap < 4.5 * size, f"{seq_dir.name}: look-alike {gap:.1f} px from the target"
        assert _nearest_colour(frame, t_box) == target["colour"]


def test_relation_sentence_names_the_lookalike_and_the_true_relation() -> None:
    config = _with(lookalike_kinds=("same_colour",), relation_sentence=True)
    for k in range(1, 7):
        seq = plan_sequence(config, k)
        target = seq.meta["target"]
        match = re.fullmatch(r"the (\w+) (\w+) (left of|right of|above|below) the (\w+) (\w+)", seq.sentence)
        assert match is not None, seq.sentence
        assert (match.group(1), match.group(2)) == (target["colour"], target["shape"])
        other = seq.meta["distractors"][seq.meta["related_distractor"]]
        assert other["role"] == "same_colour" and (match.group(4), match.group(5)) == (other["colour"], other["shape"])
        dx, dy = _centre(other["track_xywh"][0]) - _centre(target["track_xywh"][0])
        expected = ("left of" if dx > 0 else "right of") if abs(dx) >= abs(dy) else ("above" if dy > 0 else "below")
        assert match.group(3) == expected


def test_absent_sentence_names_nothing_in_the_scene(tmp_path: Path) -> None:
    config = _with(absent_sentence=True, lookalike_kinds=("mixed",), num_sequences=8)
    for seq_dir in generate_dataset(tmp_path, config):
        meta = _meta(seq_dir)
        sentence = (seq_dir / "nlp.txt").read_text().strip()
        assert meta["absent_sentence"] is True and meta["sentence"] == sentence
        named = meta["sentence_names"]
        assert sentence.split()[1:3] == [named["colour"], named["shape"]]
        looks = {(o["colour"], o["shape"]) for o in [meta["target"], *meta["distractors"]]}
        assert (named["colour"], named["shape"]) not in looks
        target = meta["target"]
        assert f"{target['colour']} {target['shape']}" in meta["target_sentence"]
        # a near miss: the target's shape or its colour
        assert named["colour"] == target["colour"] or named["shape"] == target["shape"]


@pytest.mark.parametrize("kind", ["occlusion", "out_of_view"])
def test_absence_episode_has_the_requested_length_in_the_middle(kind: str, tmp_path: Path) -> None:
    config = _with(absence=True, absence_kinds=(kind,), absence_frames=(8, 14), num_sequences=5)
    n = config.num_frames
    for seq_dir in generate_dataset(tmp_path, config):
        seq, meta = read_sequence_dir(seq_dir), _meta(seq_dir)
        ofv, occ = seq.attributes["out_of_view"], seq.attributes["full_occlusion"]
        absent = np.flatnonzero(ofv | occ)
        assert absent.tolist() == list(range(absent[0], absent[-1] + 1)), "one contiguous episode"
        episode = meta["phenomena"]["absence"]
        assert episode["kind"] == kind and episode["frames"] == [absent[0], absent[-1]]
        assert episode["length"] == absent.size and abs(absent.size - episode["requested_length"]) <= 1
        assert 7 <= absent.size <= 15
        assert absent[0] >= 6 and absent[-1] <= n - 7  # visible before and after, in the middle
        if kind == "occlusion":
            assert not ofv.any() and meta["phenomena"]["occlusion"]["kind"] == "cloud"
            # the target's colour is gone from its centre while covered
            frame = cv2.imread(str(seq.frame_paths[absent[absent.size // 2]]))
            box = meta["target"]["track_xywh"][absent[absent.size // 2]]
            assert _nearest_colour(frame, box) != meta["target"]["colour"] or meta["target"]["colour"] == "white"
        else:
            assert not occ.any() and meta["phenomena"]["out_of_view"]["frames"][0] <= absent[0] + 1
            assert all(seq.boxes_xywh[t].tolist() == [0.0, 0.0, 0.0, 0.0] for t in absent)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"absence": True, "num_frames": 30}, r"absence needs num_frames >= 42 .*got 30"),
        ({"absence_frames": (5, 3)}, r"absence_frames must satisfy 1 <= lo <= hi, got \(5, 3\)"),
        ({"lookalike_kinds": ("same_size",)}, r"unknown lookalike_kinds \['same_size'\]"),
        ({"relation_sentence": True, "num_distractors_range": (0, 0)}, "relation_sentence needs an object"),
        ({"absence_kinds": ("eclipse",)}, r"unknown absence_kinds \['eclipse'\]"),
    ],
)
def test_bad_variant_config_is_rejected_with_the_value(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _with(**changes)


def test_cli_variant_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = make_synthetic_main(
        ["--out", str(tmp_path), "--num-sequences", "2", "--seed", "9", "--frames", "50", "--size", "192x128",
         "--distractor-kinds", "same-colour", "--absent-sentence", "--absence", "--absence-frames", "10,12",
         "--absence-kinds", "out-of-view", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    for k in (1, 2):
        meta = _meta(tmp_path / "uav" / f"uav-{k}")
        assert meta["lookalikes"]["kind"] == "same_colour" and meta["absent_sentence"] is True
        assert meta["phenomena"]["absence"]["kind"] == "out_of_view"
        assert 9 <= meta["phenomena"]["absence"]["length"] <= 13
    with pytest.raises(SystemExit):
        make_synthetic_main(["--out", str(tmp_path / "x"), "--distractor-kinds", "same-size"])
    assert "--distractor-kinds must be a comma-separated list of ['same-shape', 'same-colour', 'mixed']" in \
        capsys.readouterr().err
