"""Write tiny fake tracking datasets in each distributed layout (real PNG/JPG frames).

Every maker returns ``{sequence name: FakeSeq}`` with what a reader should find.
All sequences use :data:`PATTERN_BOXES` (6 frames): frame 2 is all zeros
(absent target) and frame 4 has zero width, so both are invisible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

# box_xywh per frame
PATTERN_BOXES = np.array(
    [
        [4.0, 4.0, 8.0, 6.0],
        [5.0, 4.0, 8.0, 6.0],
        [0.0, 0.0, 0.0, 0.0],  # absent: all zeros
        [6.0, 5.0, 8.0, 6.0],
        [7.0, 5.0, 0.0, 6.0],  # zero width
        [7.0, 6.0, 8.0, 6.0],
    ]
)
PATTERN_VISIBLE = np.array([True, True, False, True, False, True])
FRAME_HW = (24, 32)


@dataclass
class FakeSeq:
    """What a reader should return for one written sequence."""

    name: str
    num_frames: int
    boxes_xywh: np.ndarray
    visible: np.ndarray
    sentence: str
    attributes: dict = field(default_factory=dict)


def write_frames(
    directory: Path, count: int, ext: str = ".jpg", name_fmt: str = "{:08d}", start: int = 1
) -> list[Path]:
    """Write ``count`` small real images (value = frame index) and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = np.full((*FRAME_HW, 3), (i * 20) % 256, dtype=np.uint8)
        path = directory / (name_fmt.format(start + i) + ext)
        assert cv2.imwrite(str(path), image), path
        paths.append(path)
    return paths


def write_boxes(path: Path, boxes_xywh: np.ndarray, sep: str = ",") -> None:
    """One box per line, ``%g`` formatted."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(sep.join(f"{v:g}" for v in row) + "\n" for row in boxes_xywh))


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# ---------------------------------------------------------------- LaSOT ----
def make_lasot(root: Path, classes: dict[str, list[int]] | None = None, with_split: bool = True) -> dict[str, FakeSeq]:
    """``<class>/<class>-<n>/img``; occlusion flags mark frames 2 (full occlusion) and 3 (out of view)."""
    classes = classes or {"airplane": [1, 2], "bird": [3]}
    full_occlusion = np.array([0, 0, 1, 0, 0, 0], dtype=bool)
    out_of_view = np.array([0, 0, 0, 1, 0, 0], dtype=bool)
    expected = {}
    for cls, numbers in classes.items():
        for n in numbers:
            name = f"{cls}-{n}"
            seq_dir = root / cls / name
            write_frames(seq_dir / "img", len(PATTERN_BOXES))
            write_boxes(seq_dir / "groundtruth.txt", PATTERN_BOXES)
            _write_text(seq_dir / "nlp.txt", f"the {cls} number {n}\n")
            _write_text(seq_dir / "full_occlusion.txt", ",".join(str(int(v)) for v in full_occlusion))
            _write_text(seq_dir / "out_of_view.txt", ",".join(str(int(v)) for v in out_of_view) + "\n")
            # frame 3 is visible by its box but out of view by the flag
            visible = PATTERN_VISIBLE & ~full_occlusion & ~out_of_view
            expected[name] = FakeSeq(
                name,
                len(PATTERN_BOXES),
                PATTERN_BOXES,
                visible,
                f"the {cls} number {n}",
                {"full_occlusion": full_occlusion, "out_of_view": out_of_view},
            )
    if with_split:
        first = sorted(expected)[0]
        last = sorted(expected)[-1]
        _write_text(root / "testing_set.txt", f"{first}\n{last}\n")
    return expected


# ---------------------------------------------------------------- TNL2K ----
def make_tnl2k(root: Path, names: tuple[str, ...] = ("Basketball_video_01", "car_advSamp_02")) -> dict[str, FakeSeq]:
    """``<seq>/imgs/*.png`` named 1.png, 2.png, ... (natural order matters)."""
    expected = {}
    for name in names:
        seq_dir = root / name
        write_frames(seq_dir / "imgs", len(PATTERN_BOXES), ext=".png", name_fmt="{}")
        write_boxes(seq_dir / "groundtruth.txt", PATTERN_BOXES)
        _write_text(seq_dir / "language.txt", f"  track the {name.lower()} \n")
        expected[name] = FakeSeq(name, len(PATTERN_BOXES), PATTERN_BOXES, PATTERN_VISIBLE, f"track the {name.lower()}")
    return expected


# -------------------------------------------------------------- OTB99-L ----
def make_otb99_lang(root: Path) -> dict[str, FakeSeq]:
    """``Biker`` (test), ``Jogging-1`` (test, tab separated ``groundtruth_rect.1.txt``),
    ``BlurCar3`` (train, 8 images but 6 boxes: OTB starts its ground truth at frame 3)."""
    write_frames(root / "Biker" / "img", 6, name_fmt="{:04d}")
    write_boxes(root / "Biker" / "groundtruth_rect.txt", PATTERN_BOXES)
    write_frames(root / "Jogging" / "img", 6, name_fmt="{:04d}")
    write_boxes(root / "Jogging" / "groundtruth_rect.1.txt", PATTERN_BOXES, sep="\t")
    write_boxes(root / "Jogging" / "groundtruth_rect.2.txt", PATTERN_BOXES + 1, sep="\t")
    write_frames(root / "BlurCar3" / "img", 8, name_fmt="{:04d}")
    write_boxes(root / "BlurCar3" / "groundtruth_rect.txt", PATTERN_BOXES)
    _write_text(root / "OTB_query_test" / "Biker.txt", "a man riding\na bike\n")
    _write_text(root / "OTB_query_test" / "Jogging-1.txt", "woman jogging on the left\n")
    _write_text(root / "OTB_query_train" / "BlurCar3.txt", "face of a man\n")
    return {
        "Biker": FakeSeq("Biker", 6, PATTERN_BOXES, PATTERN_VISIBLE, "a man riding a bike"),
        "Jogging-1": FakeSeq("Jogging-1", 6, PATTERN_BOXES, PATTERN_VISIBLE, "woman jogging on the left"),
        "BlurCar3": FakeSeq("BlurCar3", 6, PATTERN_BOXES, PATTERN_VISIBLE, "face of a man"),
    }


# ------------------------------------------------------------ WebUAV-3M ----
# 14 binary flags, then complexity=2 (hard), size=0 (small), length=1 (medium)
WEBUAV_ATTRIBUTE_LINE = "1,0,0,1,0,0,0,0,0,0,0,0,0,1,2,0,1"


def make_webuav3m(root: Path) -> dict[str, FakeSeq]:
    """``Test/uav_000001`` (with attributes.txt) and ``Train/uav_000002`` (without)."""
    expected = {}
    for split, name, with_attributes in (("Test", "uav_000001", True), ("Train", "uav_000002", False)):
        seq_dir = root / split / name
        write_frames(seq_dir / "img", len(PATTERN_BOXES), name_fmt="{:06d}")
        write_boxes(seq_dir / "groundtruth_rect.txt", PATTERN_BOXES)
        _write_text(seq_dir / "language.txt", f"the drone in {split.lower()}\n")
        attributes: dict = {}
        if with_attributes:
            _write_text(seq_dir / "attributes.txt", WEBUAV_ATTRIBUTE_LINE + "\n")
            attributes = {
                "Low_resolution": 1,
                "Out_of_view": 1,
                "Motion_blur": 1,
                "Complexity_hard": 1,
                "Size_small": 1,
                "Length_medium": 1,
            }
        sentence = f"the drone in {split.lower()}"
        expected[name] = FakeSeq(name, len(PATTERN_BOXES), PATTERN_BOXES, PATTERN_VISIBLE, sentence, attributes)
    return expected


# -------------------------------------------------------------- GOT-10k ----
META_INFO = """[METAINFO]
url: https://example.invalid/video
object_class: red_panda
motion_class: walking
resolution: (32, 24)
"""


def make_got10k(root: Path) -> dict[str, FakeSeq]:
    """``val/GOT-10k_Val_000001`` (absence.label marks frame 3) and a test sequence with one box."""
    val = root / "val"
    name = "GOT-10k_Val_000001"
    seq_dir = val / name
    write_frames(seq_dir, len(PATTERN_BOXES))
    write_boxes(seq_dir / "groundtruth.txt", PATTERN_BOXES)
    absence = np.array([0, 0, 1, 1, 0, 0], dtype=bool)
    _write_text(seq_dir / "absence.label", "".join(f"{int(v)}\n" for v in absence))
    _write_text(seq_dir / "meta_info.ini", META_INFO)
    _write_text(val / "list.txt", name + "\n")

    test_dir = root / "test" / "GOT-10k_Test_000001"
    write_frames(test_dir, 4)
    write_boxes(test_dir / "groundtruth.txt", PATTERN_BOXES[:1])
    _write_text(test_dir / "meta_info.ini", "[METAINFO]\nresolution: (32, 24)\n")
    return {
        name: FakeSeq(name, 6, PATTERN_BOXES, PATTERN_VISIBLE & ~absence, "red panda", {"absence": absence}),
        "GOT-10k_Test_000001": FakeSeq("GOT-10k_Test_000001", 4, PATTERN_BOXES[:1], np.array([True]), ""),
    }


def write_tracker_results(
    tracker_dir: Path, boxes: dict[str, np.ndarray], seconds_per_frame: float | None = None
) -> None:
    """One ``<seq>.txt`` per sequence (and ``<seq>_time.txt`` when seconds are given)."""
    tracker_dir.mkdir(parents=True, exist_ok=True)
    for name, seq_boxes in boxes.items():
        write_boxes(tracker_dir / f"{name}.txt", seq_boxes)
        if seconds_per_frame is not None:
            _write_text(tracker_dir / f"{name}_time.txt", f"{seconds_per_frame}\n" * len(seq_boxes))
