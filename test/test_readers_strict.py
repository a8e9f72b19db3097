"""Dataset and result readers refuse instead of guessing; errors name the file and line."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from allinone_ros.data.datasets import open_dataset
from allinone_ros.data.sequence import DatasetLayoutError, read_sequence_dir
from allinone_ros.evaluation.results import ResultsError, read_result_rows
from fixtures_datasets import write_frames

BOM = "\ufeff"


def _seq(seq_dir: Path, frames: int, gt_text: str, frame_dir: str = "imgs", gt_name: str = "groundtruth.txt",
         name_fmt: str = "{:05d}") -> Path:
    write_frames(seq_dir / frame_dir, frames, name_fmt=name_fmt)
    (seq_dir / gt_name).write_text(gt_text)
    return seq_dir


BOXES3 = "1,2,3,4\n2,2,3,4\n3,2,3,4\n"


def test_tnl2k_sequence_without_groundtruth_is_an_error(tmp_path: Path) -> None:
    _seq(tmp_path / "a", 3, BOXES3)
    write_frames(tmp_path / "b" / "imgs", 3, name_fmt="{:05d}")
    with pytest.raises(DatasetLayoutError, match=r"b/groundtruth.txt: missing \(TNL2K sequence 'b' has imgs/"):
        open_dataset("tnl2k", tmp_path)


def test_webuav_sequence_without_groundtruth_is_an_error(tmp_path: Path) -> None:
    _seq(tmp_path / "Test" / "uav1", 3, BOXES3, "img", "groundtruth_rect.txt", "{:06d}")
    write_frames(tmp_path / "Test" / "uav2" / "img", 3, name_fmt="{:06d}")
    with pytest.raises(DatasetLayoutError, match=r"uav2/groundtruth_rect.txt: missing"):
        open_dataset("webuav3m", tmp_path)


def test_short_groundtruth_and_blank_lines(tmp_path: Path) -> None:
    seq_dir = _seq(tmp_path / "s", 4, BOXES3)
    with pytest.raises(DatasetLayoutError, match=r"groundtruth.txt:3: ground truth ends after 3 boxes but the "
                                                 r"sequence has 4 frames"):
        read_sequence_dir(seq_dir)
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\n\n3,2,3,4\n4,2,3,4\n")
    with pytest.raises(DatasetLayoutError, match=r"groundtruth.txt:2: blank line inside the file"):
        read_sequence_dir(seq_dir)
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\n2,2,3,4\n3,2,3,4\n4,2,3,4\n\n\n")  # trailing blanks: fine
    assert read_sequence_dir(seq_dir).boxes_xywh[:, 0].tolist() == [1, 2, 3, 4]
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\n")  # first box only (GOT-10k test): accepted
    assert not read_sequence_dir(seq_dir).has_full_groundtruth


def test_lasot_groundtruth_shorter_than_the_images_uses_the_first_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seq_dir = _seq(tmp_path / "monkey" / "monkey-17", 5, BOXES3, "img", name_fmt="{:08d}")
    (seq_dir / "full_occlusion.txt").write_text("0,0,0\n")
    (seq_dir / "out_of_view.txt").write_text("0,0,0\n")
    with caplog.at_level(logging.WARNING):
        [seq] = open_dataset("lasot", tmp_path)
    assert [p.name for p in seq.frame_paths] == ["00000001.jpg", "00000002.jpg", "00000003.jpg"]
    assert "3 boxes for 5 images; using frames 1-3 as the LaSOT toolkits do" in caplog.text


def test_byte_order_marks_are_stripped_everywhere(tmp_path: Path) -> None:
    seq_dir = tmp_path / "cat" / "cat-1"
    _seq(seq_dir, 3, BOM + BOXES3, "img", name_fmt="{:08d}")
    (seq_dir / "full_occlusion.txt").write_text(BOM + "0,1,0\n")
    (seq_dir / "out_of_view.txt").write_text(BOM + "0,0,1\n")
    (seq_dir / "nlp.txt").write_text(BOM + "the black cat\n")
    (tmp_path / "testing_set.txt").write_text(BOM + "cat-1\n")
    [seq] = open_dataset("lasot", tmp_path, "test")
    assert seq.name == "cat-1" and seq.sentence == "the black cat"
    assert seq.boxes_xywh[0].tolist() == [1, 2, 3, 4]
    assert seq.visible.tolist() == [True, False, False]
    result = tmp_path / "cat-1.txt"
    result.write_text(BOM + "1,2,3,4\n0\n3,2,3,4\n")
    boxes, zero_lines = read_result_rows(result)
    assert boxes[1].tolist() == [0, 0, 0, 0] and zero_lines.tolist() == [False, True, False]
    webuav = tmp_path / "uav" / "Test" / "uav1"
    _seq(webuav, 3, BOXES3, "img", "groundtruth_rect.txt", "{:06d}")
    (webuav / "attributes.txt").write_text(BOM + "1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n")
    [uav] = open_dataset("webuav3m", tmp_path / "uav")
    assert uav.attributes["Low_resolution"] == 1


def test_result_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("1,2,3,4\n\n3,2,3,4\n")
    with pytest.raises(ResultsError, match=r"r.txt:2: blank line inside the file"):
        read_result_rows(path)
    path.write_text("1,2,3,4\n1,2\n")
    with pytest.raises(ResultsError, match=r"r.txt:2: expected 4 values x,y,w,h \(or a single 0\), got 2"):
        read_result_rows(path)


def test_missing_visibility_and_attribute_files_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    seq_dir = tmp_path / "cat" / "cat-1"
    _seq(seq_dir, 3, BOXES3, "img", name_fmt="{:08d}")
    (seq_dir / "full_occlusion.txt").write_text("0,1,0\n")
    with caplog.at_level(logging.WARNING):
        [seq] = open_dataset("lasot", tmp_path)
    assert "out_of_view.txt: missing; assuming the target visible in every frame" in caplog.text
    assert seq.visible.tolist() == [True, False, True]
    caplog.clear()
    _seq(tmp_path / "uav" / "uav1", 3, BOXES3, "img", "groundtruth_rect.txt", "{:06d}")
    with caplog.at_level(logging.WARNING):
        open_dataset("webuav3m", tmp_path / "uav")
    assert "without attributes.txt (uav1): counted in no attribute subset" in caplog.text


def test_otb_alignment_as_the_toolkits(tmp_path: Path) -> None:
    # Diving: 8 images, 6 boxes -> frames 1-6 (got10k, the All-in-One loader), not the last six
    _seq(tmp_path / "Diving", 8, "1,2,3,4\n" * 6, "img", "groundtruth_rect.txt", "{:04d}")
    # Human4 in the OTB100 layout: an empty groundtruth_rect.1.txt and the boxes in .2
    _seq(tmp_path / "Human4", 3, "", "img", "groundtruth_rect.1.txt", "{:04d}")
    (tmp_path / "Human4" / "groundtruth_rect.2.txt").write_text(BOXES3)
    queries = tmp_path / "OTB_query_test"
    queries.mkdir()
    (queries / "Diving.txt").write_text("a diver\n")
    (queries / "Human4.txt").write_text(BOM + "a man walking\n")
    seqs = {s.name: s for s in open_dataset("otb99_lang", tmp_path, "test")}
    assert [p.name for p in seqs["Diving"].frame_paths] == [f"{i:04d}.jpg" for i in range(1, 7)]
    assert seqs["Human4"].sentence == "a man walking"
    np.testing.assert_array_equal(seqs["Human4"].boxes_xywh[:, 0], [1, 2, 3])
    (tmp_path / "Human4" / "groundtruth_rect.1.txt").write_text(BOXES3)
    with pytest.raises(DatasetLayoutError, match=r"Human4: several targets \(groundtruth_rect.1.txt, "
                                                 r"groundtruth_rect.2.txt\)"):
        open_dataset("otb99_lang", tmp_path, "test")


def test_got10k_meta_cover_and_resolution(tmp_path: Path) -> None:
    seq_dir = _seq(tmp_path / "val" / "G1", 3, BOXES3, ".", name_fmt="{:08d}")
    (seq_dir / "meta_info.ini").write_text(BOM + "[METAINFO]\nobject_class: red_panda\nresolution: (640, 480)\n")
    (seq_dir / "absence.label").write_text("0\n1\n0\n")
    (seq_dir / "cover.label").write_text("8\n0\n3\n")
    [seq] = open_dataset("got10k", tmp_path, "val")
    assert seq.sentence == "red panda" and seq.image_size_wh == (640, 480)
    assert seq.cover.tolist() == [8, 0, 3]
    (seq_dir / "cover.label").write_text("8\n9\n3\n")
    with pytest.raises(DatasetLayoutError, match=r"cover.label:2: value '9'"):
        open_dataset("got10k", tmp_path, "val")
