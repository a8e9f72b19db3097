"""rosbag2 input and output for the offline tools, through the pure-Python ``rosbags`` library.

No ROS install is needed: ``rosbags`` reads and writes rosbag2 bags (storage ``sqlite3`` and
``mcap``; a bag directory with ``metadata.yaml``, or a single ``.db3`` / ``.mcap`` file).

* :func:`iter_bag_frames` yields the images of one topic (``sensor_msgs/msg/Image`` in any
  encoding of :mod:`allinone_ros.data.image_msg`, or ``sensor_msgs/msg/CompressedImage``) in
  the bag's order, with each image's header stamp and frame id.
* :func:`read_bag_folder` reads a folder of bags with ground truth as evaluation sequences
  (:class:`BagSequence`, dataset kind ``rosbag2``); layout::

      ROOT/<name>/                  a rosbag2 bag directory (metadata.yaml + .db3 or .mcap), or
      ROOT/<name>.mcap | .db3       a single-file bag
      ROOT/<name>.groundtruth.txt   required: one x,y,w,h box per image of the topic, in bag order
                                    (only the first line = the initial box: tracking, no metrics)
      ROOT/<name>.nlp.txt           optional: the sentence describing the target

* :func:`write_target_bag` writes tracking results as ``allinone_ros/msg/TrackedTarget``
  messages whose headers are the input images' (stamp and frame id), recorded at the input
  images' bag timestamps. The package's message types are registered from its ``msg/*.msg``
  files, so the bag carries their definitions and standard tools (``ros2 bag info``, MCAP
  readers, ``rosbags``) read it.
"""
from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .frames import FrameReadError
from .image_msg import ImageConversionError, compressed_msg_to_rgb, image_msg_to_rgb
from ..ops.boxes import centre_offset, nonempty_mask
from .sequence import DatasetLayoutError, Sequence, read_boxes_xywh

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
TARGET_TYPE = "allinone_ros/msg/TrackedTarget"
STORAGES = ("mcap", "sqlite3")
PACKAGE_MESSAGES = ("TrackedTarget", "TrackRequest")

# TrackedTarget.STATE_* (msg/TrackedTarget.msg), by the core's state names
TARGET_STATES = {"idle": 0, "waiting_for_box": 1, "tracking": 2, "lost": 3, "grounding": 4}


class BagError(FrameReadError):
    """A bag cannot be read or written as asked (missing, no such topic, not an image topic, ...)."""


@dataclass(frozen=True)
class BagFrame:
    """One image of a bag: header stamp (ns), frame id, bag (record) timestamp (ns), RGB pixels."""

    stamp_ns: int
    frame_id: str
    recorded_ns: int
    rgb: np.ndarray


@dataclass(frozen=True)
class TargetRecord:
    """One tracking result to write: the input image's header and recording time, and the result."""

    stamp_ns: int
    frame_id: str
    recorded_ns: int
    image_size: tuple[int, int]  # (H, W)
    state: str  # a key of TARGET_STATES
    box_xywh: tuple[float, float, float, float] | None
    confidence: float
    sentence: str
    latency_ms: float


def _typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def _open_reader(path: Path) -> Any:
    from rosbags.rosbag2 import Reader

    if not path.exists():
        raise BagError(f"bag not found: {path}")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # noqa: BLE001 - rosbags raises several kinds; the message names the cause
        raise BagError(f"cannot open bag {path}: {type(exc).__name__}: {exc}") from exc
    return reader


def bag_image_topics(path: str | Path) -> dict[str, str]:
    """Image topics of the bag at ``path``: topic -> message type."""
    reader = _open_reader(Path(path))
    try:
        return {c.topic: c.msgtype for c in reader.connections if c.msgtype in IMAGE_TYPES}
    finally:
        reader.close()


def _image_connections(reader: Any, path: Path, topic: str) -> list[Any]:
    conns = [c for c in reader.connections if c.topic == topic]
    images = {c.topic: c.msgtype for c in reader.connections if c.msgtype in IMAGE_TYPES}
    if not conns:
        raise BagError(f"bag {path} has no topic {topic!r}; its image topics are {sorted(images) or 'none'}")
    wrong = sorted({c.msgtype for c in conns if c.msgtype not in IMAGE_TYPES})
    if wrong:
        raise BagError(f"topic {topic!r} in bag {path} has type {', '.join(wrong)}, not {' or '.join(IMAGE_TYPES)}; "
                       f"its image topics are {sorted(images) or 'none'}")
    return conns


def count_bag_frames(path: str | Path, topic: str) -> int:
    """Number of messages on ``topic`` (from the bag's index; no decoding)."""
    path = Path(path)
    reader = _open_reader(path)
    try:
        return sum(c.msgcount for c in _image_connections(reader, path, topic))
    finally:
        reader.close()


def iter_bag_frames(path: str | Path, topic: str) -> Iterator[BagFrame]:
    """The images of ``topic`` in bag order, decoded to RGB; an undecodable one raises :class:`BagError`."""
    path = Path(path)
    reader = _open_reader(path)
    try:
        conns = _image_connections(reader, path, topic)
        store = _typestore()
        for index, (conn, recorded_ns, raw) in enumerate(reader.messages(connections=conns)):
            msg = store.deserialize_cdr(raw, conn.msgtype)
            stamp_ns = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
            try:
                rgb = compressed_msg_to_rgb(msg) if conn.msgtype == COMPRESSED_TYPE else image_msg_to_rgb(msg)
            except ImageConversionError as exc:
                raise BagError(f"bag {path}, topic {topic!r}, message {index + 1} (stamp {stamp_ns / 1e9:.9f}): "
                               f"{exc}") from exc
            yield BagFrame(stamp_ns, str(msg.header.frame_id), int(recorded_ns), rgb)
    finally:
        reader.close()


# --------------------------------------------------------------------------- a folder of bags as a dataset

BAG_SUFFIXES = (".mcap", ".db3")


@dataclass(frozen=True, eq=False)
class BagSequence(Sequence):
    """A sequence whose frames are the images of ``image_topic`` in the bag at ``bag_path``."""

    bag_path: Path = Path()
    image_topic: str = ""
    num_frames: int = 0

    def __len__(self) -> int:
        return self.num_frames

    def frames(self) -> Iterator[np.ndarray]:
        return (frame.rgb for frame in iter_bag_frames(self.bag_path, self.image_topic))


def find_bags(root: Path) -> dict[str, Path]:
    """Bags directly in ``root``: name -> path (bag directories with metadata.yaml, .mcap / .db3 files)."""
    bags: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and (entry / "metadata.yaml").is_file():
            name = entry.name
        elif entry.is_file() and entry.suffix in BAG_SUFFIXES:
            name = entry.stem
        else:
            continue
        if name in bags:
            raise DatasetLayoutError(f"{root}: two bags named {name!r}: {bags[name].name} and {entry.name}")
        bags[name] = entry
    return bags


def read_bag_folder(root: str | Path, image_topic: str) -> list[BagSequence]:
    """The bags in ``root`` with their ground truth (layout in the module docstring)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: not a directory (expected a folder of bags)")
    bags = find_bags(root)
    if not bags:
        raise DatasetLayoutError(f"{root}: no bags (expected <name>/metadata.yaml, <name>.mcap or <name>.db3)")
    sequences = []
    for name, path in bags.items():
        gt = root / f"{name}.groundtruth.txt"
        if not gt.is_file():
            raise DatasetLayoutError(f"{root}: bag {path.name} has no ground truth {gt.name}")
        boxes = read_boxes_xywh(gt)
        count = count_bag_frames(path, image_topic)
        if boxes.shape[0] > count:
            raise DatasetLayoutError(f"{gt}: {boxes.shape[0]} boxes but {path.name} has {count} images on "
                                     f"{image_topic}")
        text_path = root / f"{name}.nlp.txt"
        sentence = text_path.read_text(encoding="utf-8", errors="replace").strip() if text_path.is_file() else ""
        sequences.append(BagSequence(name=name, frame_paths=(), boxes_xywh=boxes, visible=nonempty_mask(boxes),
                                     sentence=sentence, bag_path=path, image_topic=image_topic, num_frames=count))
    return sequences


# --------------------------------------------------------------------------- writing results


def message_definition_dirs() -> list[Path]:
    """Where the package's ``.msg`` files may be: the source tree, then ``share/allinone_ros/msg``
    of every ROS install prefix (``AMENT_PREFIX_PATH``) and of this Python's prefix."""
    dirs = [Path(__file__).resolve().parents[2] / "msg"]
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p] + [sys.prefix]
    dirs += [Path(p) / "share" / "allinone_ros" / "msg" for p in prefixes]
    return dirs


def package_typestore() -> Any:
    """A ``rosbags`` typestore (ROS 2 Kilted types) with ``allinone_ros/msg/*`` registered from the .msg files."""
    from rosbags.typesys import get_types_from_msg

    store = _typestore()
    for directory in message_definition_dirs():
        if all((directory / f"{name}.msg").is_file() for name in PACKAGE_MESSAGES):
            types: dict[str, Any] = {}
            for name in PACKAGE_MESSAGES:
                types.update(get_types_from_msg((directory / f"{name}.msg").read_text(), f"allinone_ros/msg/{name}"))
            store.register(types)
            return store
    raise BagError(f"the package's message definitions ({', '.join(PACKAGE_MESSAGES)}.msg) were not found in "
                   f"{[str(d) for d in message_definition_dirs()]}")


def _target_message(store: Any, record: TargetRecord) -> Any:
    types = store.types
    sec, nanosec = divmod(int(record.stamp_ns), 1_000_000_000)
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                          frame_id=record.frame_id)
    height, width = record.image_size
    box = record.box_xywh
    has_box = box is not None and all(math.isfinite(v) for v in box) and box[2] > 0 and box[3] > 0
    x, y, w, h = (float(v) for v in box) if has_box else (0.0, 0.0, 0.0, 0.0)  # type: ignore[union-attr]
    off_x, off_y = centre_offset((x, y, w, h), width, height) if has_box else (0.0, 0.0)
    if record.state not in TARGET_STATES:
        raise ValueError(f"unknown track state {record.state!r}; expected one of {sorted(TARGET_STATES)}")
    return types[TARGET_TYPE](
        header=header, state=TARGET_STATES[record.state], x=x, y=y, width=w, height=h, offset_x=off_x,
        offset_y=off_y, confidence=float(min(max(record.confidence, 0.0), 1.0)) if has_box else 0.0,
        sentence=record.sentence, latency_ms=float(record.latency_ms), frames_dropped=0,
        image_width=int(width), image_height=int(height),
    )


def write_target_bag(path: str | Path, records: Iterable[TargetRecord], storage: str = "mcap",
                     topic: str = "/tracker_node/target") -> int:
    """Write ``records`` as a new rosbag2 bag directory at ``path``; returns the number of messages.

    ``path`` must not exist (rosbags never overwrites a bag).
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    if storage not in STORAGES:
        raise ValueError(f"bag storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    path = Path(path)
    if path.exists():
        raise BagError(f"output bag {path} exists already; remove it or choose another path")
    store = package_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin) as writer:
        conn = writer.add_connection(topic, TARGET_TYPE, typestore=store)
        for record in records:
            msg = _target_message(store, record)
            writer.write(conn, int(record.recorded_ns), store.serialize_cdr(msg, TARGET_TYPE))
            count += 1
    return count
