"""The low-level helpers (allinone_ros.ops): IoU, normalisation, box text files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from allinone_ros.ops import box_files
from allinone_ros.ops.iou import box_iou_xywh, iou_xywh
from allinone_ros.ops.normalize import image_to_tensor, normalize_pixels


def test_iou_of_known_boxes() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5], [2, 3, 4, 5]], dtype=float)
    # identical; half shifted: 50 / (100 + 100 - 50); disjoint; b inside a: 20 / 100
    np.testing.assert_allclose(iou_xywh(a, b), [1.0, 50 / 150, 0.0, 0.2])


def test_iou_of_empty_or_non_finite_boxes_is_zero() -> None:
    a = np.array([[0, 0, 0, 10], [0, 0, -5, 10], [np.nan, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10]] * 3, dtype=float)
    np.testing.assert_array_equal(iou_xywh(a, b), [0.0, 0.0, 0.0])


def test_single_box_iou_is_the_row_iou_and_shapes_are_checked() -> None:
    assert box_iou_xywh(np.array([0, 0, 10, 10.0]), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert box_iou_xywh((0, 0, 10, 10), (30, 30, 1, 1)) == 0.0
    with pytest.raises(ValueError, match=r"first boxes: expected an \(N, 4\) box_xywh array, got shape \(3,\)"):
        iou_xywh(np.zeros(3), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="IoU of 2 boxes with 1 boxes"):
        iou_xywh(np.zeros((2, 4)), np.zeros((1, 4)))


def test_normalisation_is_the_imagenet_formula_in_float32() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    expected = ((image.astype(np.float32) / np.float32(255.0) - mean) / std).transpose(2, 0, 1)  # (3, H, W)
    got = image_to_tensor(image)
    assert got.dtype == torch.float32 and got.shape == (3, 5, 7)
    np.testing.assert_array_equal(got.numpy(), expected)
    # the batched float path (device crops) gives the same values
    pixels = torch.from_numpy(image).permute(2, 0, 1).float()[None]  # (1, 3, H, W)
    assert torch.equal(normalize_pixels(pixels)[0], got)


class _Bad(ValueError):
    pass


def test_box_rows_round_trip_and_absent_marks(tmp_path: Path) -> None:
    boxes = np.array([[1.5, 2, 3, 4], [0.25, 0, 10, 20.125]])
    path = tmp_path / "boxes.txt"
    box_files.write_text_atomic(path, box_files.format_box_rows(boxes))
    assert path.read_text() == "1.5000,2.0000,3.0000,4.0000\n0.2500,0.0000,10.0000,20.1250\n"
    assert [p.name for p in tmp_path.iterdir()] == ["boxes.txt"]  # no temporary file left
    read, marks = box_files.read_box_rows(path, _Bad, "box file", "hint")
    np.testing.assert_array_equal(read, boxes)
    assert marks.tolist() == [False, False]
    path.write_text("\ufeff1 2\t3,4\n0\nnan,1,2,3\n\n")
    read, marks = box_files.read_box_rows(path, _Bad, "box file", "hint", absent_marks=True)
    assert read[:2].tolist() == [[1, 2, 3, 4], [0, 0, 0, 0]] and np.isnan(read[2, 0])
    assert marks.tolist() == [False, True, False]


@pytest.mark.parametrize("text, message", [
    ("1,2,3,4\n\n1,2,3,4\n", r"b.txt:2: blank line inside the file \(say why\)"),
    ("1,2,3,4\n0\n", r"b.txt:2: expected 4 values x,y,w,h, got 1: '0'"),
    ("1,2,x,4\n", r"b.txt:1: non-numeric box value in '1,2,x,4'"),
    ("\n\n", r"b.txt: the box file is empty"),
])
def test_box_file_errors_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "b.txt"
    path.write_text(text)
    with pytest.raises(_Bad, match=message):
        box_files.read_box_rows(path, _Bad, "the box file", "say why")
    path.write_bytes(b"1,2,3,4\n\xff\n")
    with pytest.raises(_Bad, match=r"b.txt: not UTF-8 text \(byte 8\)"):
        box_files.read_box_rows(path, _Bad, "the box file", "say why")
