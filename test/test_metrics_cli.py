"""``allinone-metrics`` end to end on a generated TNL2K-layout dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from allinone_ros.cli.metrics import main
from fixtures_datasets import PATTERN_BOXES, make_lasot, make_tnl2k, write_tracker_results

SHIFT = np.array([4.0, 0.0, 0.0, 0.0])


@pytest.fixture()
def setup(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "tnl2k"
    names = make_tnl2k(data)
    # "exact" outputs the ground truth; "shifted" is 4 px to the right on every frame
    write_tracker_results(tmp_path / "exact", {n: PATTERN_BOXES for n in names}, seconds_per_frame=0.05)
    write_tracker_results(tmp_path / "shifted", {n: PATTERN_BOXES + SHIFT for n in names})
    return {"data": data, "exact": tmp_path / "exact", "shifted": tmp_path / "shifted", "out": tmp_path / "report"}


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {row["Tracker"]: row for row in csv.DictReader(handle)}


def test_end_to_end(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "--dataset-root", str(setup["data"]),
            "--results", f"exact={setup['exact']}", f"shifted={setup['shifted']}",
            "--out", str(setup["out"]),
            "--no-progress",
        ]
    )
    assert code == 0
    out = setup["out"]
    for name in ("summary.csv", "summary.md", "per_sequence.csv", "success.png", "precision.png",
                 "norm_precision.png", "complete_success.png", "conventions.txt"):
        assert (out / name).is_file(), name
    assert cv2.imread(str(out / "success.png")) is not None
    assert not (out / "attributes.csv").exists()  # TNL2K has no attributes

    rows = _rows(out / "summary.csv")
    # TNL2K detected -> protocol pytracking. Pattern: frames 2 (all zeros) and 4 (zero width) are invalid.
    # exact: IoU [1, 1, -1, 1, -1, 1] -> 4/6 for t < 1, 0 at t = 1 -> AUC = 20 * (4/6) / 21 = 40/63 = 63.492 %
    assert rows["exact"]["AUC"] == "63.492"
    assert rows["exact"]["P@20px"] == "66.667"  # 4/6: invalid frames have centre error inf
    assert rows["exact"]["nP"] == "100.000"  # pytracking: invalid frames have normalised error -1, a hit
    assert rows["exact"]["mAcc"] == "-"  # pytracking defines no mAcc
    assert rows["exact"]["Protocol"] == "pytracking"
    assert rows["exact"]["FPS"] == "20.000"  # 1 / 0.05 s
    # shifted (8x6 boxes moved 4 px): IoU 24/72 = 1/3 on frames 1, 3, 5; frame 0 is the ground truth.
    # t = 0..0.30: 4/6; t = 0.35..0.95: 1/6; AUC = (7*4/6 + 13/6) / 21 = 41/126 = 32.540 %
    assert rows["shifted"]["AUC"] == "32.540"
    assert rows["shifted"]["P@20px"] == "66.667"  # centre error 4 px on visible frames, inf on absent ones
    assert rows["shifted"]["FPS"] == "-"
    assert rows["exact"]["Sequences"] == "2"

    text = (out / "summary.md").read_text()
    assert text.index("| exact") < text.index("| shifted")
    assert "protocol: pytracking" in text
    printed = capsys.readouterr().out
    assert "| exact | 2 | 63.5 |" in printed

    with (out / "per_sequence.csv").open() as handle:
        per_seq = list(csv.DictReader(handle))
    assert len(per_seq) == 4 and {r["Counted"] for r in per_seq} == {"6"}


def test_conventions_override(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--dataset-root", str(setup["data"]), "--kind", "tnl2k", "--protocol", "strict", "--absent", "exclude",
         "--results", f"exact={setup['exact']}", "--out", str(setup["out"]), "--no-progress"]
    )
    assert code == 0
    rows = _rows(setup["out"] / "summary.csv")
    # only the 4 visible frames count, all IoU 1 -> AUC = 20/21 = 95.238 %
    assert rows["exact"]["AUC"] == "95.238"
    # mAcc: frame 2 all-zero gt + empty prediction -> 1; frame 4 gt is not all zero, prediction empty -> 0 -> 5/6
    assert rows["exact"]["mAcc"] == "83.333"
    assert "absent frames: exclude" in (setup["out"] / "summary.md").read_text()
    # convention overrides belong to the strict protocol only
    code = main(["--dataset-root", str(setup["data"]), "--absent", "exclude",
                 "--results", f"exact={setup['exact']}", "--out", str(setup["out"]), "--no-progress"])
    assert code == 2
    assert "--absent only apply to --protocol strict (protocol is pytracking)" in capsys.readouterr().err


def test_attribute_table_for_lasot(tmp_path: Path) -> None:
    names = make_lasot(tmp_path / "lasot")
    write_tracker_results(tmp_path / "exact", {n: PATTERN_BOXES for n in names})
    code = main(["--dataset-root", str(tmp_path / "lasot"), "--split", "test",
                 "--results", f"exact={tmp_path / 'exact'}", "--out", str(tmp_path / "r"), "--no-progress"])
    assert code == 0
    with (tmp_path / "r" / "attributes.csv").open() as handle:
        rows = {r["Attribute"]: r for r in csv.DictReader(handle)}
    # both test sequences have full-occlusion and out-of-view frames.
    # visible frames 0, 1, 5 of 6 -> 3/6 below t = 1 -> AUC = 20 * 0.5 / 21 = 47.619 %
    assert rows["full_occlusion"]["Sequences"] == "2"
    assert rows["out_of_view"]["exact AUC"] == "47.619"


def test_missing_result_file(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (setup["shifted"] / "car_advSamp_02.txt").unlink()
    args = ["--dataset-root", str(setup["data"]), "--results", f"exact={setup['exact']}",
            f"shifted={setup['shifted']}", "--out", str(setup["out"]), "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "allinone-metrics: error: missing result files: shifted" in err
    assert "car_advSamp_02" in err and "Traceback" not in err
    # --skip-missing scores the common subset (1 sequence)
    assert main(args + ["--skip-missing"]) == 0
    assert _rows(setup["out"] / "summary.csv")["shifted"]["Sequences"] == "1"


def test_malformed_result_file(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (setup["exact"] / "Basketball_video_01.txt").write_text("1,2,3\n")
    code = main(["--dataset-root", str(setup["data"]), "--results", f"exact={setup['exact']}",
                 "--out", str(setup["out"]), "--no-progress"])
    assert code == 2
    assert "Basketball_video_01.txt:1: expected 4 values" in capsys.readouterr().err


def test_short_result_file(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    (setup["exact"] / "Basketball_video_01.txt").write_text("4,4,8,6\n")
    code = main(["--dataset-root", str(setup["data"]), "--results", f"exact={setup['exact']}",
                 "--out", str(setup["out"]), "--no-progress"])
    assert code == 2
    assert "1 predicted boxes for 6 ground-truth boxes" in capsys.readouterr().err


def test_bad_dataset_root(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    missing = setup["data"] / "nope"
    code = main(["--dataset-root", str(missing), "--results", f"exact={setup['exact']}", "--out", str(setup["out"])])
    assert code == 2
    assert f"{missing}: dataset root not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--results", "no_equals_sign"], "expected NAME=DIR"),
        (["--results", "x=/definitely/not/here"], "result directory of tracker 'x' not found"),
        (["--kind", "vot"], "unknown dataset kind 'vot'"),
        (["--absent", "sometimes"], "invalid choice: 'sometimes'"),
    ],
)
def test_argument_errors(
    setup: dict[str, Path], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["--dataset-root", str(setup["data"]), "--out", str(setup["out"])]
    if "--results" not in extra:
        args += ["--results", f"exact={setup['exact']}"]
    with pytest.raises(SystemExit) as info:
        main(args + extra)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_duplicate_tracker_name(setup: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--dataset-root", str(setup["data"]), "--out", str(setup["out"]),
              "--results", f"a={setup['exact']}", f"a={setup['shifted']}"])
    assert "tracker name 'a' given twice" in capsys.readouterr().err
