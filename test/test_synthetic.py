"""Synthetic UAV vision-language sequences: determinism, LaSOT layout, flags, distractors, sentences."""

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

# Small but complete: every phenomenon forced on.
FULL = SyntheticConfig(
    num_sequences=3,
    num_frames=24,
    frame_width=192,
    frame_height=144,
    seed=7,
    occlusion_prob=1.0,
    out_of_view_prob=1.0,
    same_shape_distractor=True,
)


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _meta(seq_dir: Path) -> dict:
    return json.loads((seq_dir / "meta.json").read_text())


@pytest.fixture(scope="module")
def full_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("synthetic_full")
    return root, generate_dataset(root, FULL)


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(full_dataset: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, _ = full_dataset
    generate_dataset(tmp_path, FULL)
    first, second = _all_files(root), _all_files(tmp_path)
    # 3 sequences x (24 frames + groundtruth, nlp, two flag files, meta.json)
    assert len(first) == 3 * (24 + 5)
    assert first.keys() == second.keys()
    differing = [name for name in first if first[name] != second[name]]
    assert differing == []


def test_different_seed_gives_different_sequences(full_dataset: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, _ = full_dataset
    generate_dataset(tmp_path, SyntheticConfig(**{**FULL.__dict__, "seed": 8, "num_sequences": 1}))
    seq_a, seq_b = root / "uav" / "uav-1", tmp_path / "uav" / "uav-1"
    assert (seq_a / "groundtruth.txt").read_bytes() != (seq_b / "groundtruth.txt").read_bytes()
    assert (seq_a / "img" / "00000001.jpg").read_bytes() != (seq_b / "img" / "00000001.jpg").read_bytes()


def test_a_sequence_does_not_depend_on_how_many_are_generated(
    full_dataset: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    root, _ = full_dataset
    generate_dataset(tmp_path, SyntheticConfig(**{**FULL.__dict__, "num_sequences": 2}))
    for k in (1, 2):
        assert _all_files(root / "uav" / f"uav-{k}") == _all_files(tmp_path / "uav" / f"uav-{k}")


# ----------------------------------------------------------------------------- layout


def test_lasot_layout_is_read_by_read_sequence_dir(full_dataset: tuple[Path, list[Path]]) -> None:
    root, dirs = full_dataset
    assert dirs == [root / "uav" / f"uav-{k}" for k in (1, 2, 3)]
    for seq_dir in dirs:
        seq = read_sequence_dir(seq_dir)
        assert seq.name == seq_dir.name
        assert [p.name for p in seq.frame_paths] == [f"{i:08d}.jpg" for i in range(1, 25)]
        assert seq.boxes_xywh.shape == (24, 4)
        assert seq.sentence == (seq_dir / "nlp.txt").read_text().strip() == _meta(seq_dir)["sentence"]
        ofv, occ = seq.attributes["out_of_view"], seq.attributes["full_occlusion"]
        assert ofv.shape == occ.shape == (24,)
        np.testing.assert_array_equal(seq.visible, ~ofv & ~occ)
        assert seq.visible[0]
        frame = cv2.imread(str(seq.frame_paths[0]))
        assert frame.shape == (144, 192, 3)
        # LaSOT flag files: a single line of comma-separated 0/1
        for name in ("out_of_view.txt", "full_occlusion.txt"):
            lines = (seq_dir / name).read_text().splitlines()
            assert len(lines) == 1 and re.fullmatch(r"[01](,[01]){23}", lines[0])


# ----------------------------------------------------------------------------- flags


def test_out_of_view_flags_follow_the_target_leaving_the_frame(full_dataset: tuple[Path, list[Path]]) -> None:
    _, dirs = full_dataset
    width, height = 192, 144
    for seq_dir in dirs:
        meta = _meta(seq_dir)
        seq = read_sequence_dir(seq_dir)
        flags = seq.attributes["out_of_view"]
        track = np.asarray(meta["target"]["track_xywh"])
        for t in range(24):
            x, y, w, h = track[t]
            # visible extent of the unclipped box inside [0, W] x [0, H]
            x1, y1 = max(x, 0.0), max(y, 0.0)
            x2, y2 = min(x + w, width), min(y + h, height)
            outside = (x2 - x1) < 1.0 or (y2 - y1) < 1.0
            assert flags[t] == outside, f"{seq_dir.name} frame {t}"
            if outside:
                assert seq.boxes_xywh[t].tolist() == [0.0, 0.0, 0.0, 0.0]
            else:
                np.testing.assert_allclose(seq.boxes_xywh[t], [x1, y1, x2 - x1, y2 - y1], atol=0.011)
        spell_start, spell_end = meta["phenomena"]["out_of_view"]["frames"]
        assert flags[spell_start : spell_end + 1].all()  # the target was sent fully outside
        assert not flags[0] and not flags[spell_end + 1 :].all()  # and it comes back
        # flagged frames form one contiguous spell
        flagged = np.flatnonzero(flags)
        assert flagged.tolist() == list(range(flagged[0], flagged[-1] + 1))


def test_occlusion_covers_the_target_and_full_occlusion_flag_matches(
    full_dataset: tuple[Path, list[Path]],
) -> None:
    _, dirs = full_dataset
    for seq_dir in dirs:
        meta = _meta(seq_dir)
        seq = read_sequence_dir(seq_dir)
        occlusion = meta["phenomena"]["occlusion"]
        assert occlusion["kind"] in ("tree", "cloud")
        fraction = np.asarray(meta["target_visible_fraction"])
        ofv = seq.attributes["out_of_view"]
        assert fraction[0] == 1.0
        assert fraction[occlusion["peak_frame"]] < 1.0  # the occluder is over the target at its peak
        np.testing.assert_array_equal(seq.attributes["full_occlusion"], (fraction == 0.0) & ~ofv)


# ----------------------------------------------------------------------------- distractors, sentences


def _nearest_colour(rgb: np.ndarray) -> str:
    return min(COLOURS_RGB, key=lambda name: float(np.sum((np.asarray(COLOURS_RGB[name]) - rgb) ** 2)))


def _centre_rgb(frame_bgr: np.ndarray, box_xywh: list[float]) -> np.ndarray:
    x, y, w, h = box_xywh
    cx, cy = int(round(x + w / 2)), int(round(y + h / 2))
    patch = frame_bgr[cy - 1 : cy + 2, cx - 1 : cx + 2, ::-1].reshape(-1, 3).astype(np.float64)
    return patch.mean(axis=0)


def test_requested_same_shape_distractor_is_drawn_next_to_the_target(tmp_path: Path) -> None:
    config = SyntheticConfig(
        num_sequences=4, num_frames=3, frame_width=320, frame_height=240, seed=3, occlusion_prob=0.0,
        out_of_view_prob=0.0, same_shape_distractor=True, target_size_range=(0.1, 0.12),
    )  # fmt: skip
    for seq_dir in generate_dataset(tmp_path, config):
        meta = _meta(seq_dir)
        target, first = meta["target"], meta["distractors"][0]
        assert first["role"] == "same_shape"
        assert first["shape"] == target["shape"] and first["colour"] != target["colour"]
        frame = cv2.imread(str(seq_dir / "img" / "00000001.jpg"))
        assert _nearest_colour(_centre_rgb(frame, target["track_xywh"][0])) == target["colour"]
        assert _nearest_colour(_centre_rgb(frame, first["track_xywh"][0])) == first["colour"]
        # next to the target: centres 1.6 - 2.6 object sizes apart along one axis
        t_box, d_box = np.asarray(target["track_xywh"][0]), np.asarray(first["track_xywh"][0])
        gap = np.abs((d_box[:2] + d_box[2:] / 2) - (t_box[:2] + t_box[2:] / 2))
        assert gap.max() > 0 and gap.max() < 4 * max(t_box[2:].max(), d_box[2:].max())


def test_no_distractor_when_none_requested() -> None:
    config = SyntheticConfig(num_frames=5, frame_width=96, frame_height=72, occlusion_prob=0.0,
                             out_of_view_prob=0.0, num_distractors_range=(0, 0))  # fmt: skip
    seq = plan_sequence(config, 1)
    assert seq.distractors == () and seq.meta["distractors"] == []


def test_sentence_names_target_colour_and_shape_and_true_relation() -> None:
    config = SyntheticConfig(num_frames=4, frame_width=128, frame_height=96, occlusion_prob=0.0,
                             out_of_view_prob=0.0, camera_motion=False)  # fmt: skip
    relations_seen = 0
    for k in range(1, 31):
        seq = plan_sequence(config, k)
        target = seq.meta["target"]
        assert f"{target['colour']} {target['shape']}" in seq.sentence
        match = re.search(r" (left of|right of|above|below) the (\w+) (\w+)$", seq.sentence)
        if match is None:
            continue
        relations_seen += 1
        other = seq.meta["distractors"][seq.meta["related_distractor"]]
        assert (match.group(2), match.group(3)) == (other["colour"], other["shape"])
        t_box, o_box = np.asarray(target["track_xywh"][0]), np.asarray(other["track_xywh"][0])
        t_c, o_c = t_box[:2] + t_box[2:] / 2, o_box[:2] + o_box[2:] / 2
        relation = match.group(1)
        if relation == "left of":
            assert t_c[0] < o_c[0]
        elif relation == "right of":
            assert t_c[0] > o_c[0]
        elif relation == "above":
            assert t_c[1] < o_c[1]
        else:
            assert t_c[1] > o_c[1]
    assert relations_seen >= 3


# ----------------------------------------------------------------------------- config, writing, CLI


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_frames": 12, "out_of_view_prob": 0.5}, "num_frames >= 20, got 12"),
        ({"colours": ("red", "mauve")}, r"unknown colours \['mauve'\]"),
        ({"frame_width": 32}, "at least 64x48, got 32x360"),
        ({"same_shape_distractor": True, "colours": ("red",)}, "at least two colours"),
        ({"class_name": "a/b"}, "class_name"),
    ],
)
def test_bad_config_is_rejected_with_the_value(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**changes)


def test_existing_sequence_needs_overwrite_and_overwrite_removes_stale_frames(tmp_path: Path) -> None:
    small = SyntheticConfig(num_sequences=1, num_frames=6, frame_width=96, frame_height=72,
                            occlusion_prob=0.0, out_of_view_prob=0.0)  # fmt: skip
    generate_dataset(tmp_path, SyntheticConfig(**{**small.__dict__, "num_frames": 8}))
    with pytest.raises(FileExistsError, match="uav-1"):
        generate_dataset(tmp_path, small)
    generate_dataset(tmp_path, small, overwrite=True)
    assert len(list((tmp_path / "uav" / "uav-1" / "img").iterdir())) == 6


def test_cli_writes_the_requested_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = make_synthetic_main(
        ["--out", str(tmp_path), "--num-sequences", "2", "--seed", "5", "--frames", "20", "--size", "96x72",
         "--with-distractor", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    for k in (1, 2):
        seq = read_sequence_dir(tmp_path / "uav" / f"uav-{k}")
        assert len(seq) == 20
        meta = _meta(tmp_path / "uav" / f"uav-{k}")
        assert meta["seed"] == 5 and meta["frame_size_wh"] == [96, 72]
        assert meta["distractors"][0]["role"] == "same_shape"
    assert make_synthetic_main(["--out", str(tmp_path), "--num-sequences", "1", "--no-progress"]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
