"""Report tables and plots."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from allinone_ros.evaluation.metrics import SUCCESS_THRESHOLDS, Summary
from allinone_ros.evaluation.report import plot_curves, write_attributes, write_plots, write_summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# matplotlib's first two default line colours in BGR: C0 #1f77b4, C1 #ff7f0e
BLUE_BGR = np.array([0xB4, 0x77, 0x1F])
ORANGE_BGR = np.array([0x0E, 0x7F, 0xFF])


def _summary(success_level: float, fps: float | None = None) -> Summary:
    """A summary whose curves are constant ``success_level`` except the last success point (0)."""
    success = np.full(21, success_level)
    success[-1] = 0.0
    return Summary(
        num_sequences=3,
        success_curve=success,
        precision_curve=np.full(51, 0.5),
        norm_precision_curve=np.linspace(0.0, 1.0, 51),
        complete_success_curve=np.full(21, 0.25),
        macc=0.4,
        fps=fps,
    )


def _pixels_near(image: np.ndarray, bgr: np.ndarray, tol: int = 30) -> int:
    return int(np.sum(np.all(np.abs(image.astype(int) - bgr) <= tol, axis=2)))


def _decode_png(path: Path) -> np.ndarray:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image


def test_plot_has_one_curve_per_tracker(tmp_path: Path) -> None:
    x = SUCCESS_THRESHOLDS
    one = plot_curves(tmp_path / "one.png", {"A": (x, np.full(21, 0.8), 0.8)}, "Success", "IoU", "rate")
    two = plot_curves(
        tmp_path / "two.png",
        {"A": (x, np.full(21, 0.8), 0.8), "B": (x, np.full(21, 0.3), 0.3)},
        "Success",
        "IoU",
        "rate",
    )
    img_one, img_two = _decode_png(one), _decode_png(two)
    # the best tracker gets the first colour; a second tracker adds a second colour
    assert _pixels_near(img_one, BLUE_BGR) > 200
    assert _pixels_near(img_one, ORANGE_BGR) == 0
    assert _pixels_near(img_two, BLUE_BGR) > 200
    assert _pixels_near(img_two, ORANGE_BGR) > 200


def test_write_plots_makes_four_pngs(tmp_path: Path) -> None:
    paths = write_plots(tmp_path, {"A": _summary(0.7), "B": _summary(0.2)})
    assert sorted(p.name for p in paths) == [
        "complete_success.png",
        "norm_precision.png",
        "precision.png",
        "success.png",
    ]
    for path in paths:
        image = _decode_png(path)
        assert _pixels_near(image, ORANGE_BGR) > 100


def test_summary_tables(tmp_path: Path) -> None:
    csv_path, md_path = write_summary(
        tmp_path, {"Weak": _summary(0.2), "Strong": _summary(0.7, fps=31.5)}, notes=["conventions: test"]
    )
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    # sorted by AUC: Strong first. AUC = 20 * 0.7 / 21 = 0.666667 -> 66.667 %
    assert [r["Tracker"] for r in rows] == ["Strong", "Weak"]
    strong, weak = rows
    assert strong["AUC"] == "66.667"
    assert weak["AUC"] == "19.048"  # 20 * 0.2 / 21 = 0.190476
    assert strong["P@20px"] == "50.000"
    # norm curve linspace(0,1,51): value at 0.20 (index 20) = 0.4 (the default scalar), mean = 0.5
    assert strong["nP"] == "40.000"
    assert strong["Protocol"] == "strict"
    assert strong["cAUC"] == "25.000"
    assert strong["mAcc"] == "40.000"
    assert strong["SR@0.5"] == "70.000"
    assert strong["FPS"] == "31.500" and weak["FPS"] == "-"
    assert strong["Sequences"] == "3"
    text = md_path.read_text()
    assert "| Tracker | Sequences | AUC |" in text
    assert "| Strong | 3 | 66.7 | 50.0 |" in text
    mean_np = write_summary(tmp_path / "mean", {"S": replace(_summary(0.7), norm_precision_scalar="mean",
                                                           protocol="got10k")})[0]
    with mean_np.open() as handle:
        row = next(csv.DictReader(handle))
    assert row["nP"] == "50.000" and row["Protocol"] == "got10k"
    assert text.index("| Strong") < text.index("| Weak")
    assert "- conventions: test" in text


def test_attribute_tables(tmp_path: Path) -> None:
    by_tracker = {"A": {"Fast_motion": _summary(0.7), "Rotation": _summary(0.35)}, "B": {"Fast_motion": _summary(0.2)}}
    csv_path, md_path = write_attributes(tmp_path, by_tracker)
    with csv_path.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Attribute", "Sequences", "A AUC", "B AUC"]
    # 20 * 0.7 / 21 -> 66.667; 20 * 0.2 / 21 -> 19.048; 20 * 0.35 / 21 -> 33.333
    assert rows[1] == ["Fast_motion", "3", "66.667", "19.048"]
    assert rows[2] == ["Rotation", "3", "33.333", "-"]
    assert "| Rotation | 3 | 33.3 | - |" in md_path.read_text()
