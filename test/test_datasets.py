"""Sequence and dataset readers on fake datasets written in each layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from allinone_ros.data.datasets import (
    DATASET_KINDS,
    normalize_kind,
    open_dataset,
    read_webuav_attributes,
)
from allinone_ros.data.detect import detect_dataset_kind
from allinone_ros.data.sequence import DatasetLayoutError, Sequence, read_sequence_dir
from fixtures_datasets import (
    PATTERN_BOXES,
    PATTERN_VISIBLE,
    FakeSeq,
    make_got10k,
    make_lasot,
    make_otb99_lang,
    make_tnl2k,
    make_webuav3m,
    write_boxes,
    write_frames,
)


def assert_matches(seq: Sequence, fake: FakeSeq) -> None:
    assert seq.name == fake.name
    assert len(seq) == fake.num_frames
    np.testing.assert_array_equal(seq.boxes_xywh, fake.boxes_xywh)
    assert seq.boxes_xywh.dtype == np.float64
    np.testing.assert_array_equal(seq.visible, fake.visible)
    assert seq.sentence == fake.sentence
    assert set(seq.attributes) == set(fake.attributes)
    for key, value in fake.attributes.items():
        np.testing.assert_array_equal(seq.attributes[key], value)
    # frames are real images
    assert all(p.is_file() for p in seq.frame_paths)
    assert cv2.imread(str(seq.frame_paths[0])).shape == (24, 32, 3)


# ------------------------------------------------------- single sequence ----
def test_read_sequence_dir_lasot_layout(tmp_path: Path) -> None:
    fake = make_lasot(tmp_path, {"airplane": [1]})["airplane-1"]
    seq = read_sequence_dir(tmp_path / "airplane" / "airplane-1")
    assert_matches(seq, fake)
    # visible: frame 2 all-zero box and full occlusion, frame 3 out of view, frame 4 zero width
    np.testing.assert_array_equal(seq.visible, [True, True, False, False, False, True])
    assert seq.has_full_groundtruth
    np.testing.assert_array_equal(seq.init_box_xywh, [4, 4, 8, 6])


def test_frames_sorted_in_natural_order(tmp_path: Path) -> None:
    seq_dir = tmp_path / "seq"
    write_frames(seq_dir / "imgs", 11, ext=".png", name_fmt="{}")
    write_boxes(seq_dir / "groundtruth.txt", np.tile([1.0, 1.0, 4.0, 4.0], (11, 1)))
    seq = read_sequence_dir(seq_dir)
    assert [p.name for p in seq.frame_paths][:3] == ["1.png", "2.png", "3.png"]
    assert seq.frame_paths[-1].name == "11.png"
    assert seq.sentence == ""  # no nlp.txt / language.txt


def test_whitespace_separated_otb_groundtruth_and_partial_groundtruth(tmp_path: Path) -> None:
    seq_dir = tmp_path / "Car"
    write_frames(seq_dir / "img", 5, name_fmt="{:04d}")
    (seq_dir / "groundtruth_rect.txt").write_text("10\t20\t30\t40\n")
    seq = read_sequence_dir(seq_dir)
    # only the initial box: 5 frames, 1 box
    assert len(seq) == 5
    assert seq.boxes_xywh.shape == (1, 4)
    assert not seq.has_full_groundtruth
    np.testing.assert_array_equal(seq.boxes_xywh[0], [10, 20, 30, 40])


def test_nan_box_is_invisible(tmp_path: Path) -> None:
    seq_dir = tmp_path / "s"
    write_frames(seq_dir / "img", 2)
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\nNaN,NaN,NaN,NaN\n")
    np.testing.assert_array_equal(read_sequence_dir(seq_dir).visible, [True, False])


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no frames found"),
        (lambda d: write_frames(d / "img", 2), "no ground truth; expected one of groundtruth.txt"),
        (lambda d: (d / "img").mkdir(), "frame directory contains no"),
    ],
)
def test_layout_errors_name_path_and_expectation(tmp_path: Path, setup, message: str) -> None:
    seq_dir = tmp_path / "broken"
    seq_dir.mkdir()
    setup(seq_dir)
    with pytest.raises(DatasetLayoutError, match=message) as info:
        read_sequence_dir(seq_dir)
    assert str(seq_dir) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="not a directory"):
        read_sequence_dir(tmp_path / "missing")


def test_bad_groundtruth_line_reports_line_number(tmp_path: Path) -> None:
    seq_dir = tmp_path / "s"
    write_frames(seq_dir / "img", 3)
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(DatasetLayoutError, match=r"groundtruth.txt:2: expected 4 values"):
        read_sequence_dir(seq_dir)
    (seq_dir / "groundtruth.txt").write_text("1,2,3,x\n")
    with pytest.raises(DatasetLayoutError, match=r"groundtruth.txt:1: non-numeric"):
        read_sequence_dir(seq_dir)


def test_more_boxes_than_frames_is_an_error(tmp_path: Path) -> None:
    seq_dir = tmp_path / "s"
    write_frames(seq_dir / "img", 1)
    write_boxes(seq_dir / "groundtruth.txt", PATTERN_BOXES[:2])
    with pytest.raises(DatasetLayoutError, match="2 boxes but only 1 frames"):
        read_sequence_dir(seq_dir)


def test_flag_file_of_wrong_length(tmp_path: Path) -> None:
    make_lasot(tmp_path, {"cat": [1]}, with_split=False)
    flag = tmp_path / "cat" / "cat-1" / "full_occlusion.txt"
    flag.write_text("0,1,0")
    with pytest.raises(DatasetLayoutError, match=r"full_occlusion.txt: 3 flags, expected 6"):
        read_sequence_dir(flag.parent)
    flag.write_text("0,2,0,0,0,0")
    with pytest.raises(DatasetLayoutError, match=r"full_occlusion.txt:1: value '2', expected one of \[0, 1\]"):
        read_sequence_dir(flag.parent)


# ----------------------------------------------------------- datasets ----
def test_lasot_all_and_test_split(tmp_path: Path) -> None:
    expected = make_lasot(tmp_path)
    sequences = open_dataset("lasot", tmp_path)
    assert [s.name for s in sequences] == ["airplane-1", "airplane-2", "bird-3"]
    for seq in sequences:
        assert_matches(seq, expected[seq.name])
    # testing_set.txt lists airplane-1 and bird-3
    assert [s.name for s in open_dataset("LaSOT", tmp_path, split="test")] == ["airplane-1", "bird-3"]
    listing = tmp_path / "mine.txt"
    listing.write_text("airplane-2\n")
    assert [s.name for s in open_dataset("lasot", tmp_path, split=str(listing))] == ["airplane-2"]


def test_lasot_split_errors(tmp_path: Path) -> None:
    make_lasot(tmp_path, with_split=False)
    with pytest.raises(DatasetLayoutError, match="testing_set.txt: split list not found"):
        open_dataset("lasot", tmp_path, split="test")
    (tmp_path / "testing_set.txt").write_text("zebra-9\n")
    with pytest.raises(DatasetLayoutError, match="zebra-9"):
        open_dataset("lasot", tmp_path, split="test")


def test_lasot_ext_reader_and_detection(tmp_path: Path) -> None:
    expected = make_lasot(tmp_path, {"atv": [1], "wingsuit": [2]})
    sequences = open_dataset("lasot_ext", tmp_path)
    assert [s.name for s in sequences] == ["atv-1", "wingsuit-2"]
    for seq in sequences:
        assert_matches(seq, expected[seq.name])
    assert detect_dataset_kind(tmp_path) == "lasot_ext"


def test_tnl2k(tmp_path: Path) -> None:
    expected = make_tnl2k(tmp_path)
    sequences = open_dataset("tnl2k", tmp_path)
    assert [s.name for s in sequences] == ["Basketball_video_01", "car_advSamp_02"]
    for seq in sequences:
        assert_matches(seq, expected[seq.name])
        assert seq.frame_paths[0].suffix == ".png"


def test_otb99_lang_splits_sentences_and_offsets(tmp_path: Path) -> None:
    expected = make_otb99_lang(tmp_path)
    test = open_dataset("otb99-l", tmp_path, split="test")
    assert [s.name for s in test] == ["Biker", "Jogging-1"]
    for seq in test:
        assert_matches(seq, expected[seq.name])
    everything = {s.name: s for s in open_dataset("otb99_lang", tmp_path)}
    assert set(everything) == {"Biker", "Jogging-1", "BlurCar3"}
    blurcar = everything["BlurCar3"]
    assert_matches(blurcar, expected["BlurCar3"])
    # 8 images, 6 boxes: OTB's BlurCar3 ground truth starts at image 3 -> images 3..8
    assert [p.name for p in blurcar.frame_paths] == [f"{i:04d}.jpg" for i in range(3, 9)]


def test_otb99_lang_missing_video(tmp_path: Path) -> None:
    (tmp_path / "OTB_query_test").mkdir()
    (tmp_path / "OTB_query_test" / "Ghost.txt").write_text("nothing\n")
    with pytest.raises(DatasetLayoutError, match="OTB sequence 'Ghost' not found"):
        open_dataset("otb99_lang", tmp_path)


def test_webuav3m_with_attributes(tmp_path: Path) -> None:
    expected = make_webuav3m(tmp_path)
    sequences = {s.name: s for s in open_dataset("webuav3m", tmp_path)}
    assert set(sequences) == {"uav_000001", "uav_000002"}
    test_only = open_dataset("WebUAV-3M", tmp_path, split="test")  # split directory matched ignoring case
    assert [s.name for s in test_only] == ["uav_000001"]
    seq = sequences["uav_000001"]
    np.testing.assert_array_equal(seq.boxes_xywh, PATTERN_BOXES)
    np.testing.assert_array_equal(seq.visible, PATTERN_VISIBLE)
    assert seq.sentence == "the drone in test"
    # 14 flags + 3 x 3 one-hot graded attributes
    assert len(seq.attributes) == 23
    on = {k for k, v in seq.attributes.items() if v}
    assert on == set(expected["uav_000001"].attributes)
    assert sequences["uav_000002"].attributes == {}


def test_webuav_attribute_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "attributes.txt"
    path.write_text("1,0,1")
    with pytest.raises(DatasetLayoutError, match=r"expected 14 binary flags .*got 3 values"):
        read_webuav_attributes(path)
    path.write_text(",".join(["0"] * 14) + ",3,0,0")
    with pytest.raises(DatasetLayoutError, match="Complexity must be 0, 1 or 2, got 3"):
        read_webuav_attributes(path)
    path.write_text(" ".join(["1.0"] * 14))  # whitespace separated floats, flags only
    assert sum(read_webuav_attributes(path).values()) == 14


def test_got10k_val_and_test(tmp_path: Path) -> None:
    expected = make_got10k(tmp_path)
    (val,) = open_dataset("got10k", tmp_path, split="val")
    assert_matches(val, expected["GOT-10k_Val_000001"])
    # frame 2: zero box, frame 3: absence.label, frame 4: zero width
    np.testing.assert_array_equal(val.visible, [True, True, False, False, False, True])
    (test,) = open_dataset("GOT-10k", tmp_path, split="test")
    assert len(test) == 4 and test.boxes_xywh.shape == (1, 4)
    assert test.sentence == ""
    with pytest.raises(DatasetLayoutError, match="give the split"):
        open_dataset("got10k", tmp_path)


@pytest.mark.parametrize(
    ("maker", "kind", "sub"),
    [
        (make_lasot, "lasot", ""),
        (make_tnl2k, "tnl2k", ""),
        (make_otb99_lang, "otb99_lang", ""),
        (make_webuav3m, "webuav3m", ""),
        (make_got10k, "got10k", ""),
        (make_got10k, "got10k", "val"),
    ],
)
def test_detect_dataset_kind(tmp_path: Path, maker, kind: str, sub: str) -> None:
    maker(tmp_path)
    assert detect_dataset_kind(tmp_path / sub) == kind


def test_detect_and_open_errors(tmp_path: Path) -> None:
    (tmp_path / "random").mkdir()
    with pytest.raises(DatasetLayoutError, match="cannot detect the dataset kind") as info:
        detect_dataset_kind(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(DatasetLayoutError, match="no TNL2K sequences"):
        open_dataset("tnl2k", tmp_path)
    with pytest.raises(DatasetLayoutError, match="not a directory"):
        open_dataset("lasot", tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown dataset kind 'vot'"):
        open_dataset("vot", tmp_path)


def test_kind_aliases() -> None:
    assert normalize_kind("LaSOT_ext") == "lasot_ext"
    assert normalize_kind("OTB99-L") == "otb99_lang"
    assert normalize_kind("webuav") == "webuav3m"
    assert {normalize_kind(k) for k in DATASET_KINDS} == set(DATASET_KINDS)
