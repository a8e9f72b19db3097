"""rosbag2 replay: ``allinone-track --bag`` against the same frames as an image folder, and the result bag.

The input bags are written here with ``rosbags`` (sqlite3 and mcap; sensor_msgs/Image in bgr8 and
sensor_msgs/CompressedImage JPEG); the image folder holds the very same pixels (PNG for raw
images, the JPEG bytes of each CompressedImage for compressed ones).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rosbags")

from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from allinone_ros.cli.track import main  # noqa: E402
from allinone_ros.data.bag import TARGET_TYPE, iter_bag_frames, package_typestore  # noqa: E402
from builders import moving_target_frames, tiny_checkpoint  # noqa: E402

TOPIC = "/camera/image_raw"
SENTENCE = "the red box"
FIRST_STAMP_NS = 1_700_000_000_123_456_789
PERIOD_NS = 33_333_333


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pth")


def _header(store, stamp_ns: int, frame_id: str):
    sec, nanosec = divmod(stamp_ns, 1_000_000_000)
    types = store.types
    return types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                        frame_id=frame_id)


def write_input(tmp: Path, frames: list[np.ndarray], boxes: np.ndarray, storage: str, compressed: bool):
    """The frames as a bag (topic TOPIC) and as a sequence folder with identical pixels; returns both and the stamps."""
    store = get_typestore(Stores.ROS2_KILTED)
    seq = tmp / "seq"
    (seq / "img").mkdir(parents=True)
    np.savetxt(seq / "groundtruth.txt", boxes, fmt="%.2f", delimiter=",")
    bag = tmp / f"input_{storage}_{'jpeg' if compressed else 'raw'}"
    msgtype = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    stamps = []
    with Writer(bag, version=9, storage_plugin=plugin) as writer:
        conn = writer.add_connection(TOPIC, msgtype, typestore=store)
        writer.add_connection("/other", "std_msgs/msg/String", typestore=store)
        for i, rgb in enumerate(frames):
            stamp = FIRST_STAMP_NS + i * PERIOD_NS + (7 if i % 2 else 0)  # not a multiple of anything
            stamps.append(stamp)
            bgr = np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            if compressed:
                ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
                assert ok
                (seq / "img" / f"{i + 1:06d}.jpg").write_bytes(jpeg.tobytes())
                msg = store.types[msgtype](header=_header(store, stamp, "cam"), format="jpeg",
                                           data=np.frombuffer(jpeg.tobytes(), np.uint8))
            else:
                cv2.imwrite(str(seq / "img" / f"{i + 1:06d}.png"), bgr)
                h, w = rgb.shape[:2]
                msg = store.types[msgtype](header=_header(store, stamp, "cam"), height=h, width=w, encoding="bgr8",
                                           is_bigendian=0, step=w * 3, data=bgr.reshape(-1))
            writer.write(conn, stamp + 1_000_000, store.serialize_cdr(msg, msgtype))  # recorded 1 ms later
    return bag, seq, stamps


def read_targets(bag: Path):
    store = package_typestore()
    with Reader(bag) as reader:
        conns = [c for c in reader.connections if c.topic == "/tracker_node/target"]
        assert [c.msgtype for c in conns] == [TARGET_TYPE]
        return [(t, store.deserialize_cdr(raw, c.msgtype)) for c, t, raw in reader.messages(connections=conns)]


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
@pytest.mark.parametrize("compressed", [False, True], ids=["Image", "CompressedImage"])
def test_bag_replay_equals_image_folder_and_result_bag_keeps_stamps(tmp_path, ckpt, storage, compressed):
    frames, boxes = moving_target_frames(6)
    bag, seq, stamps = write_input(tmp_path, frames, boxes, storage, compressed)
    init = ",".join(f"{v:.2f}" for v in boxes[0])
    # --plain: a random-weight network never shows the lifecycle its target; this test is about the bag I/O
    common = ["--checkpoint", str(ckpt), "--init-box", init, "--text", SENTENCE, "--threads", "1", "--no-progress",
              "--plain"]
    folder_out, bag_out, result_bag = tmp_path / "folder.txt", tmp_path / "bag.txt", tmp_path / "result"
    assert main(common + ["--sequence", str(seq), "--output", str(folder_out)]) == 0
    assert main(common + ["--bag", str(bag), "--image-topic", TOPIC, "--output", str(bag_out),
                          "--output-bag", str(result_bag), "--bag-storage", storage]) == 0
    from_folder = np.loadtxt(folder_out, delimiter=",")
    from_bag = np.loadtxt(bag_out, delimiter=",")
    assert from_bag.shape == (6, 4)
    np.testing.assert_array_equal(from_bag, from_folder)

    targets = read_targets(result_bag)
    assert [m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec for _, m in targets] == stamps
    assert [t for t, _ in targets] == [s + 1_000_000 for s in stamps]  # recorded at the inputs' bag times
    assert {m.header.frame_id for _, m in targets} == {"cam"}
    assert {m.state for _, m in targets} == {2}  # TRACKING
    assert {m.sentence for _, m in targets} == {SENTENCE}
    got = np.array([[m.x, m.y, m.width, m.height] for _, m in targets])
    np.testing.assert_allclose(got, from_bag, atol=1e-3)  # float32 in the message, %.4f in the text file
    assert {(m.image_width, m.image_height) for _, m in targets} == {(320, 240)}


def test_bag_frames_decode_to_the_written_pixels(tmp_path):
    frames, boxes = moving_target_frames(3)
    bag, _, stamps = write_input(tmp_path, frames, boxes, "mcap", compressed=False)
    read = list(iter_bag_frames(bag, TOPIC))
    assert [f.stamp_ns for f in read] == stamps
    for got, want in zip(read, frames):
        np.testing.assert_array_equal(got.rgb, want)


def test_bag_errors_name_the_problem(tmp_path, ckpt, capsys):
    frames, boxes = moving_target_frames(2)
    bag, _, _ = write_input(tmp_path, frames, boxes, "sqlite3", compressed=False)
    base = ["--checkpoint", str(ckpt), "--init-box", "1,1,10,10", "--no-progress"]
    assert main(base + ["--bag", str(bag), "--image-topic", "/nope"]) == 2
    assert f"has no topic '/nope'; its image topics are ['{TOPIC}']" in capsys.readouterr().err
    assert main(base + ["--bag", str(bag), "--image-topic", "/other"]) == 2
    assert "'/other' in bag" in capsys.readouterr().err
    assert main(base + ["--bag", str(bag)]) == 2
    assert f"--bag needs --image-topic; image topics in {bag}: {TOPIC} (sensor_msgs/msg/Image)" in \
        capsys.readouterr().err
    assert main(base + ["--bag", str(tmp_path / "missing"), "--image-topic", TOPIC]) == 2
    assert "bag not found" in capsys.readouterr().err
    seq_only = ["--checkpoint", str(ckpt), "--video", str(tmp_path / "v.mp4"), "--init-box", "1,1,10,10"]
    assert main(seq_only + ["--image-topic", TOPIC]) == 2
    assert "--image-topic needs --bag" in capsys.readouterr().err
    assert main(seq_only + ["--output-bag", str(tmp_path / "ob")]) == 2
    assert "--output-bag needs --bag" in capsys.readouterr().err
    existing = tmp_path / "exists"
    existing.mkdir()
    assert main(base + ["--bag", str(bag), "--image-topic", TOPIC, "--output-bag", str(existing)]) == 2
    assert "exists already" in capsys.readouterr().err


def test_cli_outputs_get_mode_0644_under_a_restrictive_umask(tmp_path, ckpt):
    frames, boxes = moving_target_frames(2)
    bag, _, _ = write_input(tmp_path, frames, boxes, "mcap", compressed=False)
    old = os.umask(0o077)
    try:
        assert main(["--checkpoint", str(ckpt), "--bag", str(bag), "--image-topic", TOPIC, "--init-box",
                     ",".join(map(str, boxes[0])), "--output", str(tmp_path / "o.txt"), "--output-bag",
                     str(tmp_path / "ob"), "--no-progress"]) == 0
    finally:
        os.umask(old)
    written = [tmp_path / "o.txt", *sorted((tmp_path / "ob").iterdir())]
    assert len(written) >= 3  # text file, metadata.yaml, the mcap file
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {"0o644"}


def test_eval_on_a_folder_of_bags_equals_the_same_frames_as_a_dataset(tmp_path, ckpt):
    from allinone_ros.cli.eval import main as eval_main
    from builders import write_sequence

    bags, lasot = tmp_path / "flights", tmp_path / "lasot"
    bags.mkdir()
    for k, (storage, compressed) in enumerate([("mcap", False), ("sqlite3", False)]):
        name = f"car-{k + 1}"
        frames, boxes = moving_target_frames(5, velocity=(3.0 + k, 1.0))
        bag, _, _ = write_input(tmp_path / name, frames, boxes, storage, compressed)
        bag.rename(bags / name)
        np.savetxt(bags / f"{name}.groundtruth.txt", boxes, fmt="%.2f", delimiter=",")
        (bags / f"{name}.nlp.txt").write_text(SENTENCE + "\n")
        write_sequence(lasot / "car" / name, frames, boxes, SENTENCE, ext=".png")
    common = ["--checkpoint", str(ckpt), "--threads", "1", "--no-progress", "--name", "tiny"]
    assert eval_main(common + ["--dataset-root", str(bags), "--image-topic", TOPIC, "--out", str(tmp_path / "a")]) == 0
    assert eval_main(common + ["--dataset-root", str(lasot), "--out", str(tmp_path / "b")]) == 0
    for name in ("car-1", "car-2"):
        from_bags = np.loadtxt(tmp_path / "a" / "tiny" / f"{name}.txt", delimiter=",")
        assert from_bags.shape == (5, 4)
        np.testing.assert_array_equal(from_bags, np.loadtxt(tmp_path / "b" / "tiny" / f"{name}.txt", delimiter=","))
    summary = (tmp_path / "a" / "report").iterdir()
    assert any(p.name.startswith("summary") for p in summary)

    from allinone_ros.cli.metrics import main as metrics_main

    old = os.umask(0o077)
    try:  # allinone-metrics on its own (not through allinone-eval) on the folder of bags
        assert metrics_main(["--dataset-root", str(bags), "--image-topic", TOPIC, "--results",
                             f"tiny={tmp_path / 'a' / 'tiny'}", "--out", str(tmp_path / "m"), "--no-progress"]) == 0
    finally:
        os.umask(old)
    written = sorted(p for p in (tmp_path / "m").iterdir() if p.is_file())
    assert written and {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {"0o644"}


def test_eval_on_bags_names_layout_problems(tmp_path, ckpt, capsys):
    from allinone_ros.cli.eval import main as eval_main

    frames, boxes = moving_target_frames(3)
    bag, _, _ = write_input(tmp_path, frames, boxes, "mcap", compressed=False)
    bags = tmp_path / "flights"
    bags.mkdir()
    bag.rename(bags / "f1")
    args = ["--checkpoint", str(ckpt), "--dataset-root", str(bags), "--out", str(tmp_path / "o"), "--no-progress"]
    assert eval_main(args) == 2
    assert "needs the image topic (--image-topic)" in capsys.readouterr().err
    assert eval_main(args + ["--image-topic", TOPIC]) == 2
    assert "bag f1 has no ground truth f1.groundtruth.txt" in capsys.readouterr().err
    np.savetxt(bags / "f1.groundtruth.txt", np.vstack([boxes, boxes]), fmt="%.2f", delimiter=",")
    assert eval_main(args + ["--image-topic", TOPIC]) == 2
    assert f"6 boxes but f1 has 3 images on {TOPIC}" in capsys.readouterr().err
