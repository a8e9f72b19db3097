"""Readers for whole tracking datasets as distributed.

Supported kinds (see :data:`DATASET_KINDS`) and the layouts they expect under
``root``:

``lasot`` / ``lasot_ext``
    ``<class>/<class>-<n>/{img/%08d.jpg, groundtruth.txt, nlp.txt,
    full_occlusion.txt, out_of_view.txt}``. ``split``: ``None`` (every sequence
    found), ``"test"``/``"train"`` (names listed one per line in
    ``<root>/testing_set.txt`` / ``training_set.txt``) or a path to such a list.
``tnl2k``
    ``<seq>/{imgs/*.jpg|png, groundtruth.txt, language.txt}``; ``split`` may name
    a sub-directory of ``root`` (e.g. ``TNL2K_test_subset``).
``otb99_lang``
    OTB frames ``<seq>/img/%04d.jpg`` + ``groundtruth_rect.txt`` (directly in
    ``root`` or in ``root/OTB_videos``); sentences in
    ``OTB_query_test/<seq>.txt`` and ``OTB_query_train/<seq>.txt``. ``split``:
    ``"test"`` (48 sequences), ``"train"`` or ``None`` (both lists). OTB
    sequences whose ground truth is shorter than the image folder (they start
    after frame 1, e.g. David) are aligned to the *last* frames.
``webuav3m``
    ``<split>/<seq>/{img/*.jpg, groundtruth_rect.txt, language.txt,
    attributes.txt}``; ``root`` may also be a split directory itself.
    ``attributes.txt`` (the MMOT toolkit's format) is one line of 17 numbers
    separated by commas or whitespace: 14 binary flags in the order of
    :data:`WEBUAV_FLAG_NAMES`, then complexity, target size and length, each
    graded 0/1/2. They are expanded into 23 binary sequence attributes
    (``Complexity_easy``... ``Length_long``). A line with only the 14 flags is
    accepted too.
``got10k``
    ``<seq>/{%08d.jpg, groundtruth.txt, absence.label, meta_info.ini}``, order
    from ``list.txt`` when present; ``split`` names a sub-directory
    (``train``/``val``/``test``). The text is ``object_class`` from
    ``meta_info.ini`` (``""`` when missing, as in the test split).
``rosbag2``
    a folder of rosbag2 bags, each with ``<name>.groundtruth.txt`` (and optionally
    ``<name>.nlp.txt``) beside it; frames are the images of one topic (``image_topic``).
    Layout in :mod:`allinone_ros.data.bag`. No splits.
"""

from __future__ import annotations

import configparser
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Callable


from allinone_ros.data.sequence import (
    DatasetLayoutError,
    PathLike,
    Sequence,
    find_frames,
    natural_key,
    LASOT_FLAG_NAMES,
    GOT10K_ABSENCE_NAME,
    read_groundtruth,
    read_int_values,
    read_sequence_dir,
    read_text,
)
from allinone_ros.ops.boxes import nonempty_mask

LOGGER = logging.getLogger(__name__)

DATASET_KINDS = ("lasot", "lasot_ext", "tnl2k", "otb99_lang", "webuav3m", "got10k", "rosbag2")
BAG_KIND = "rosbag2"  # a folder of rosbag2 bags with ground truth (allinone_ros.data.bag); needs an image topic

_ALIASES = {
    "lasot": "lasot",
    "lasotext": "lasot_ext",
    "tnl2k": "tnl2k",
    "otb99lang": "otb99_lang",
    "otb99l": "otb99_lang",
    "otblang": "otb99_lang",
    "webuav3m": "webuav3m",
    "webuav": "webuav3m",
    "got10k": "got10k",
    "rosbag2": BAG_KIND,
    "bags": BAG_KIND,
}

WEBUAV_FLAG_NAMES = (
    "Low_resolution",
    "Partial_occlusion",
    "Full_occlusion",
    "Out_of_view",
    "Fast_motion",
    "Camera_motion",
    "Viewpoint_change",
    "Rotation",
    "Deformation",
    "Background_clutters",
    "Scale_variation",
    "Aspect_ratio_variation",
    "Illumination_variation",
    "Motion_blur",
)
WEBUAV_GRADED = (
    ("Complexity", ("easy", "medium", "hard")),
    ("Size", ("small", "medium", "large")),
    ("Length", ("short", "medium", "long")),
)

# LaSOT_ext adds 15 classes that do not occur in LaSOT; used only for detection.
LASOT_EXT_CLASSES = frozenset(
    "atv badminton cosplay dancingshoe footbag frisbee jianzi lantern misc opossum "
    "paddle raccoon rhino skatingshoe wingsuit".split()
)

OTB_QUERY_DIRS = {"test": "OTB_query_test", "train": "OTB_query_train"}


def normalize_kind(kind: str) -> str:
    """Map a user-facing dataset name (``LaSOT_ext``, ``otb99-l``...) to a kind."""
    key = kind.lower().replace("-", "").replace("_", "")
    if key not in _ALIASES:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {', '.join(DATASET_KINDS)}")
    return _ALIASES[key]


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetLayoutError(f"{path}: {what} not found (not a directory)")
    return path


def subdirs(path: Path) -> list[Path]:
    dirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def _read_name_list(path: Path) -> list[str]:
    names = [line.strip() for line in read_text(path).splitlines() if line.strip()]
    if not names:
        raise DatasetLayoutError(f"{path}: sequence list is empty")
    return names


def _find_child_ci(parent: Path, name: str) -> Path | None:
    """Sub-directory of ``parent`` named ``name`` ignoring case."""
    for child in subdirs(parent):
        if child.name.lower() == name.lower():
            return child
    return None


# ---------------------------------------------------------------- LaSOT ----
def _lasot_split_names(root: Path, split: str | None) -> list[str] | None:
    if split is None:
        return None
    as_path = Path(split)
    if as_path.is_file():
        return _read_name_list(as_path)
    list_name = {"test": "testing_set.txt", "train": "training_set.txt"}.get(split.lower())
    if list_name is None:
        raise DatasetLayoutError(f"LaSOT split {split!r}: expected 'test', 'train' or a path to a list file")
    list_path = root / list_name
    if not list_path.is_file():
        raise DatasetLayoutError(
            f"{list_path}: split list not found; put the sequence names (one per line) there "
            "or pass the list file path as the split"
        )
    return _read_name_list(list_path)


def read_lasot(root: PathLike, split: str | None = None) -> list[Sequence]:
    """LaSOT / LaSOT_ext: ``<class>/<class>-<n>/``."""
    root = require_dir(Path(root), "LaSOT root")
    wanted = _lasot_split_names(root, split)
    if wanted is not None:
        seq_dirs = []
        for name in wanted:
            cls = name.rsplit("-", 1)[0]
            seq_dir = root / cls / name
            if not seq_dir.is_dir():
                raise DatasetLayoutError(f"{seq_dir}: sequence {name!r} from the {split} split list is missing")
            seq_dirs.append(seq_dir)
    else:
        seq_dirs = [s for c in subdirs(root) for s in subdirs(c) if s.name.startswith(c.name + "-")]
        if not seq_dirs:
            raise DatasetLayoutError(f"{root}: no LaSOT sequences; expected <class>/<class>-<n>/ directories")
    return [read_sequence_dir(d, expected_flags=LASOT_FLAG_NAMES, first_frames=True) for d in seq_dirs]


def _sequence_dirs(base: Path, gt_name: str, frame_dir: str, what: str) -> list[Path]:
    """Sub-directories holding a sequence; one with frames but no ground truth is an error."""
    seq_dirs, ignored = [], []
    for d in subdirs(base):
        if (d / gt_name).is_file():
            seq_dirs.append(d)
        elif (d / frame_dir).is_dir():
            raise DatasetLayoutError(f"{d / gt_name}: missing ({what} sequence {d.name!r} has {frame_dir}/ frames)")
        else:
            ignored.append(d.name)
    if ignored and seq_dirs:
        LOGGER.warning("%s: ignoring %d directories that are not %s sequences (no %s, no %s/): %s",
                       base, len(ignored), what, gt_name, frame_dir, ", ".join(ignored[:5]))
    return seq_dirs


# ---------------------------------------------------------------- TNL2K ----
def read_tnl2k(root: PathLike, split: str | None = None) -> list[Sequence]:
    """TNL2K: ``<seq>/imgs``, ``groundtruth.txt``, ``language.txt``."""
    base = require_dir(Path(root), "TNL2K root")
    if split is not None:
        base = require_dir(base / split, f"TNL2K split directory {split!r}")
    seq_dirs = _sequence_dirs(base, "groundtruth.txt", "imgs", "TNL2K")
    if not seq_dirs:
        raise DatasetLayoutError(f"{base}: no TNL2K sequences; expected <seq>/imgs/ and <seq>/groundtruth.txt")
    return [read_sequence_dir(d) for d in seq_dirs]


# -------------------------------------------------------------- OTB99-L ----
# First annotated frame of OTB sequences whose ground truth does not start at
# frame 1 (OTB's configSeqs, pytracking otbdataset, the All-in-One loader).
# Every other sequence is aligned to frames 1..N (got10k and the All-in-One
# loader; e.g. Diving: 215 boxes for 231 images -> frames 1-215).
OTB_START_FRAME = {"David": 300, "BlurCar1": 247, "BlurCar3": 3, "BlurCar4": 18}


def _otb_numbered_groundtruth(seq_dir: Path) -> str | None:
    """The single non-empty ``groundtruth_rect.<n>.txt`` (OTB100 Human4: .1 is empty, .2 holds the boxes)."""
    candidates = sorted(seq_dir.glob("groundtruth_rect.*.txt"), key=lambda p: natural_key(p.name))
    non_empty = [p for p in candidates if read_text(p).strip()]
    for empty in sorted(set(candidates) - set(non_empty)):
        LOGGER.warning("%s: empty; ignored (as got10k does)", empty)
    if len(non_empty) == 1:
        return non_empty[0].name
    if len(non_empty) > 1:
        raise DatasetLayoutError(
            f"{seq_dir}: several targets ({', '.join(p.name for p in non_empty)}); "
            f"name the sequence {seq_dir.name}-<n> to pick one"
        )
    return None


def _otb_video_dir(root: Path, name: str) -> tuple[Path, str]:
    """Directory and ground-truth file of an OTB sequence (handles Jogging-1, Human4 etc.)."""
    for base in (root / "OTB_videos", root):
        seq_dir = base / name
        if seq_dir.is_dir():
            if (seq_dir / "groundtruth_rect.txt").is_file():
                return seq_dir, "groundtruth_rect.txt"
            numbered = _otb_numbered_groundtruth(seq_dir)
            return seq_dir, numbered or "groundtruth_rect.txt"
        stem, _, index = name.rpartition("-")
        if stem and index.isdigit() and (base / stem / f"groundtruth_rect.{index}.txt").is_file():
            return base / stem, f"groundtruth_rect.{index}.txt"
    raise DatasetLayoutError(f"{root}: OTB sequence {name!r} not found (looked in {root}/ and {root}/OTB_videos/)")


def _read_otb_sequence(root: Path, name: str, sentence: str) -> Sequence:
    seq_dir, gt_name = _otb_video_dir(root, name)
    gt_path = seq_dir / gt_name
    if not gt_path.is_file():
        raise DatasetLayoutError(f"{gt_path}: OTB ground truth missing")
    frames = find_frames(seq_dir)
    boxes = read_groundtruth(gt_path, frames, seq_dir)
    first = OTB_START_FRAME.get(seq_dir.name, 1)
    if first - 1 + boxes.shape[0] > len(frames):
        raise DatasetLayoutError(
            f"{gt_path}: {boxes.shape[0]} boxes from frame {first} need {first - 1 + boxes.shape[0]} frames, "
            f"{seq_dir} has {len(frames)}"
        )
    if (first, boxes.shape[0]) != (1, len(frames)):
        LOGGER.info("%s: %d boxes for %d frames; using frames %d-%d", name, boxes.shape[0], len(frames),
                    first, first - 1 + boxes.shape[0])
    frames = frames[first - 1 : first - 1 + boxes.shape[0]]
    return Sequence(name, frames, boxes, nonempty_mask(boxes), sentence)


def read_otb99_lang(root: PathLike, split: str | None = None) -> list[Sequence]:
    """OTB99-L: OTB videos plus ``OTB_query_{test,train}/<seq>.txt`` sentences."""
    root = require_dir(Path(root), "OTB99-L root")
    if split is not None and split.lower() not in OTB_QUERY_DIRS:
        raise DatasetLayoutError(f"OTB99-L split {split!r}: expected 'test' or 'train'")
    parts = [split.lower()] if split is not None else ["train", "test"]
    query_files: list[Path] = []
    for part in parts:
        query_dir = root / OTB_QUERY_DIRS[part]
        if query_dir.is_dir():
            query_files.extend(sorted(query_dir.glob("*.txt"), key=lambda p: natural_key(p.name)))
        elif split is not None:
            raise DatasetLayoutError(f"{query_dir}: OTB99-L sentence directory not found")
    if not query_files:
        raise DatasetLayoutError(
            f"{root}: no OTB99-L sentences; expected OTB_query_test/<seq>.txt or OTB_query_train/<seq>.txt"
        )
    sequences = []
    for query in query_files:
        sentence = " ".join(read_text(query, lenient=True).split())
        sequences.append(_read_otb_sequence(root, query.stem, sentence))
    return sequences


# ------------------------------------------------------------ WebUAV-3M ----
def read_webuav_attributes(path: Path) -> dict[str, int]:
    """Parse a WebUAV-3M ``attributes.txt`` into binary attributes (see module doc)."""
    parts = [p for p in re.split(r"[,\s]+", read_text(path).strip()) if p]
    try:
        values = [int(round(float(p))) for p in parts]
    except ValueError:
        raise DatasetLayoutError(f"{path}: attributes must be numbers, got {parts!r}") from None
    if len(values) not in (len(WEBUAV_FLAG_NAMES), len(WEBUAV_FLAG_NAMES) + len(WEBUAV_GRADED)):
        raise DatasetLayoutError(
            f"{path}: expected {len(WEBUAV_FLAG_NAMES)} binary flags optionally followed by "
            f"{len(WEBUAV_GRADED)} graded values (complexity, size, length), got {len(values)} values"
        )
    flags = values[: len(WEBUAV_FLAG_NAMES)]
    if any(v not in (0, 1) for v in flags):
        raise DatasetLayoutError(f"{path}: the first {len(WEBUAV_FLAG_NAMES)} attributes must be 0/1, got {flags}")
    attributes = dict(zip(WEBUAV_FLAG_NAMES, flags))
    for (group, levels), value in zip(WEBUAV_GRADED, values[len(WEBUAV_FLAG_NAMES) :]):
        if value not in range(len(levels)):
            raise DatasetLayoutError(f"{path}: {group} must be 0, 1 or 2, got {value}")
        for index, level in enumerate(levels):
            attributes[f"{group}_{level}"] = int(value == index)
    return attributes


def _webuav_seq_dirs(base: Path) -> list[Path]:
    return _sequence_dirs(base, "groundtruth_rect.txt", "img", "WebUAV-3M")


def _looks_like_webuav_split(base: Path) -> bool:
    return any((d / "groundtruth_rect.txt").is_file() or (d / "img").is_dir() for d in subdirs(base))


def read_webuav3m(root: PathLike, split: str | None = None) -> list[Sequence]:
    """WebUAV-3M: ``<split>/<seq>/`` with ``attributes.txt`` expanded to binary attributes."""
    root = require_dir(Path(root), "WebUAV-3M root")
    if split is not None:
        split_dir = _find_child_ci(root, split)
        if split_dir is None:
            raise DatasetLayoutError(f"{root}: WebUAV-3M split directory {split!r} not found")
        bases = [split_dir]
    elif _looks_like_webuav_split(root):
        bases = [root]
    else:
        bases = [d for d in subdirs(root) if _looks_like_webuav_split(d)]
    seq_dirs = [d for base in bases for d in _webuav_seq_dirs(base)]
    if not seq_dirs:
        raise DatasetLayoutError(
            f"{root}: no WebUAV-3M sequences; expected <split>/<seq>/img/ and <seq>/groundtruth_rect.txt"
        )
    sequences, no_attributes = [], []
    for seq_dir in seq_dirs:
        seq = read_sequence_dir(seq_dir)
        att_path = seq_dir / "attributes.txt"
        if att_path.is_file():
            seq = replace(seq, attributes={**seq.attributes, **read_webuav_attributes(att_path)})
        else:
            no_attributes.append(seq.name)
        sequences.append(seq)
    if no_attributes:
        LOGGER.warning("%d WebUAV-3M sequence(s) without attributes.txt (%s): counted in no attribute subset, "
                       "still in the overall scores", len(no_attributes), ", ".join(no_attributes[:5]))
    return sequences


# -------------------------------------------------------------- GOT-10k ----
def read_got10k_meta(meta_path: Path) -> dict[str, str]:
    """Every ``key: value`` of a GOT-10k ``meta_info.ini`` (all sections)."""
    parser = configparser.RawConfigParser(delimiters=(":",), strict=False)
    try:
        parser.read_string(read_text(meta_path, lenient=True))
    except configparser.Error as exc:
        raise DatasetLayoutError(f"{meta_path}: not a readable meta_info.ini ({exc.__class__.__name__})") from None
    return {k: v.strip() for section in parser.sections() for k, v in parser.items(section)}


def read_got10k_class(meta_path: Path) -> str:
    """``object_class`` from a GOT-10k ``meta_info.ini`` (``""`` when absent)."""
    return read_got10k_meta(meta_path).get("object_class", "").replace("_", " ")


def _got10k_resolution(meta_path: Path, meta: dict[str, str]) -> tuple[int, int] | None:
    text = meta.get("resolution")
    if text is None:
        return None
    numbers = re.findall(r"\d+", text)
    if len(numbers) != 2:
        raise DatasetLayoutError(f"{meta_path}: resolution {text!r}, expected '(width, height)'")
    return int(numbers[0]), int(numbers[1])


def _read_got10k_sequence(seq_dir: Path) -> Sequence:
    meta_path = seq_dir / "meta_info.ini"
    meta = read_got10k_meta(meta_path) if meta_path.is_file() else {}
    seq = read_sequence_dir(seq_dir, sentence=meta.get("object_class", "").replace("_", " "))
    if not seq.has_full_groundtruth:  # test split: first box only, nothing to score
        return seq
    if not (seq_dir / GOT10K_ABSENCE_NAME).is_file():
        LOGGER.warning("%s: missing; assuming the target visible in every frame with a valid box",
                       seq_dir / GOT10K_ABSENCE_NAME)
    cover = None
    cover_path = seq_dir / "cover.label"
    if cover_path.is_file():
        cover = read_int_values(cover_path, allowed=tuple(range(9)))
        if cover.shape[0] != seq.boxes_xywh.shape[0]:
            raise DatasetLayoutError(f"{cover_path}: {cover.shape[0]} values for {seq.boxes_xywh.shape[0]} frames")
    return replace(seq, image_size_wh=_got10k_resolution(meta_path, meta), cover=cover)


def read_got10k(root: PathLike, split: str | None = None) -> list[Sequence]:
    """GOT-10k: ``<seq>/%08d.jpg`` with ``list.txt`` order when present."""
    base = require_dir(Path(root), "GOT-10k root")
    if split is not None:
        base = require_dir(base / split, f"GOT-10k split directory {split!r}")
    list_path = base / "list.txt"
    if list_path.is_file():
        seq_dirs = [base / name for name in _read_name_list(list_path)]
        for seq_dir in seq_dirs:
            require_dir(seq_dir, f"sequence listed in {list_path}")
    else:
        seq_dirs = [d for d in subdirs(base) if (d / "groundtruth.txt").is_file()]
    if not seq_dirs:
        raise DatasetLayoutError(
            f"{base}: no GOT-10k sequences; expected <seq>/%08d.jpg and <seq>/groundtruth.txt "
            "(give the split, e.g. val, when the root holds train/val/test directories)"
        )
    return [_read_got10k_sequence(seq_dir) for seq_dir in seq_dirs]


# ------------------------------------------------------------ dispatch ----
_READERS: dict[str, Callable[[PathLike, str | None], list[Sequence]]] = {
    "lasot": read_lasot,
    "lasot_ext": read_lasot,
    "tnl2k": read_tnl2k,
    "otb99_lang": read_otb99_lang,
    "webuav3m": read_webuav3m,
    "got10k": read_got10k,
}


def open_dataset(kind: str, root: PathLike, split: str | None = None,
                 image_topic: str | None = None) -> list[Sequence]:
    """Read every sequence of a dataset of the given kind (see module doc); ``image_topic`` for ``rosbag2``."""
    canonical = normalize_kind(kind)
    if canonical == BAG_KIND:
        if not image_topic:
            raise ValueError(f"dataset kind {BAG_KIND} (a folder of bags) needs the image topic (--image-topic)")
        if split:
            raise ValueError(f"dataset kind {BAG_KIND} has no splits; got split {split!r}")
        from .bag import read_bag_folder

        sequences: list[Sequence] = list(read_bag_folder(root, image_topic))
    else:
        sequences = _READERS[canonical](root, split)
    names = [s.name for s in sequences]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DatasetLayoutError(f"{root}: duplicate sequence names {duplicates[:5]}")
    LOGGER.info("read %d %s sequences from %s", len(sequences), canonical, root)
    return sequences
