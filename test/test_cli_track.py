"""``allinone-track`` end to end on generated sequences and videos, and every bad input."""
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from allinone_ros.cli.track import main
from allinone_ros.lifecycle import LifecycleConfig
from builders import moving_target_frames, tiny_checkpoint, write_sequence


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pth")


@pytest.fixture()
def sequence(tmp_path):
    frames, boxes = moving_target_frames(6)
    return write_sequence(tmp_path / "seq", frames, boxes), boxes


def test_sequence_to_output_file(tmp_path, ckpt, sequence, capsys):
    seq, boxes = sequence
    out = tmp_path / "out" / "result.txt"
    assert main(["--checkpoint", str(ckpt), "--sequence", str(seq), "--output", str(out), "--no-progress",
                 "--plain"]) == 0
    rows = np.loadtxt(out, delimiter=",")
    assert rows.shape == (6, 4)
    np.testing.assert_allclose(rows[0], boxes[0], atol=1e-2)  # frame 1 = the initial box
    assert np.all(rows[:, 2:] >= 10)  # the release's clipping keeps the 10 px minimum
    err = capsys.readouterr().err
    assert "crop" in err and "model" in err and "post" in err and "ms" in err and "TRACKING 6" in err


def test_default_runs_the_node_lifecycle_and_writes_empty_rows_while_lost(tmp_path, ckpt, sequence, capsys):
    seq, boxes = sequence
    out = tmp_path / "lifecycle.txt"
    # a random-weight network cannot see the target: the lifecycle reports it LOST, with no box
    assert main(["--checkpoint", str(ckpt), "--sequence", str(seq), "--output", str(out), "--no-progress",
                 "--grounder", "none"]) == 0
    rows = np.loadtxt(out, delimiter=",")
    np.testing.assert_allclose(rows[0], boxes[0], atol=1e-2)
    patience = LifecycleConfig().lost_patience  # misses before LOST: those images report the prediction
    assert np.all(rows[1:patience] != 0) and np.all(rows[patience:] == 0)
    assert f"LOST {len(rows) - patience}, TRACKING {patience}" in capsys.readouterr().err


def test_console_entry_point_runs_as_a_process(tmp_path, ckpt, sequence):
    seq, _ = sequence
    out = tmp_path / "r.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "allinone_ros.cli.track", "--checkpoint", str(ckpt), "--sequence", str(seq),
         "--output", str(out)], capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 6


def test_video_with_init_box_text_and_saved_video(tmp_path, ckpt):
    frames, boxes = moving_target_frames(5)
    video = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    saved, out = tmp_path / "annotated.mp4", tmp_path / "v.txt"
    box = ",".join(str(v) for v in boxes[0])
    code = main(["--checkpoint", str(ckpt), "--video", str(video), "--init-box", box, "--text", "the red box",
                 "--save-video", str(saved), "--output", str(out), "--threads", "1", "--no-progress"])
    assert code == 0
    assert len(out.read_text().splitlines()) == 5
    cap = cv2.VideoCapture(str(saved))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()


def test_grayscale_and_rgba_frames_are_converted(tmp_path, ckpt):
    frames, boxes = moving_target_frames(4)
    seq = tmp_path / "mixed"
    (seq / "img").mkdir(parents=True)
    for i, f in enumerate(frames):
        img = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if i % 2 else cv2.cvtColor(f, cv2.COLOR_RGB2BGRA)
        cv2.imwrite(str(seq / "img" / f"{i + 1:08d}.png"), img)
    np.savetxt(seq / "groundtruth.txt", boxes, delimiter=",")
    out = tmp_path / "o.txt"
    assert main(["--checkpoint", str(ckpt), "--sequence", str(seq), "--output", str(out), "--no-progress"]) == 0
    assert len(out.read_text().splitlines()) == 4


def test_frame_size_change_mid_sequence(tmp_path, ckpt, caplog):
    frames, boxes = moving_target_frames(4)
    frames[2] = np.ascontiguousarray(frames[2][:200, :300])
    seq = write_sequence(tmp_path / "resized", frames, boxes, ext=".png")
    out = tmp_path / "o.txt"
    assert main(["--checkpoint", str(ckpt), "--sequence", str(seq), "--output", str(out), "--no-progress"]) == 0
    assert "frame 3 is 300x200" in caplog.text


def _wrong_shape_checkpoint(path):
    from allinone_ros.checkpoint import read_checkpoint
    raw = read_checkpoint(path)
    state = dict(raw.state_dict)
    state["backbone.pos_embed_x"] = torch.zeros(1, 10, 64)
    bad = path.parent / "wrong_shape.pth"
    torch.save({"net": state}, bad)
    return bad


BAD_INPUTS = {
    "missing checkpoint": (lambda t, c, s: (["--checkpoint", str(t / "nope.pth")], "checkpoint not found")),
    "corrupt checkpoint": (lambda t, c, s: (["--checkpoint", _truncate(c, t)], "cannot read checkpoint")),
    "wrong shapes": (lambda t, c, s: (["--checkpoint", str(_wrong_shape_checkpoint(c))], "pos_embed_x")),
    "nan box": (lambda t, c, s: (["--checkpoint", str(c), "--init-box", "nan,1,10,10"], "non-finite")),
    "zero box": (lambda t, c, s: (["--checkpoint", str(c), "--init-box", "10,10,0,10"], "must be >= 1 px")),
    "negative box": (lambda t, c, s: (["--checkpoint", str(c), "--init-box", "10,10,-4,10"], "must be >= 1 px")),
    "off-image box": (lambda t, c, s: (["--checkpoint", str(c), "--init-box", "900,900,10,10"], "outside")),
    "unreadable frame": (lambda t, c, s: (["--checkpoint", str(c)], "cannot read frame")),
    "empty sequence": (lambda t, c, s: (["--checkpoint", str(c)], "contains no")),
}


def _truncate(ckpt, tmp_path):
    data = ckpt.read_bytes()
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(data[: len(data) // 3])
    return str(bad)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_clear_message_and_nonzero_exit(tmp_path, ckpt, sequence, capsys, case):
    seq, _ = sequence
    if case == "unreadable frame":
        (seq / "img" / "00000003.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    if case == "empty sequence":
        seq = tmp_path / "empty"
        (seq / "img").mkdir(parents=True)
        (seq / "groundtruth.txt").write_text("1,1,10,10\n")
    args, expected = BAD_INPUTS[case](tmp_path, ckpt, seq)
    code = main(args + ["--sequence", str(seq), "--output", str(tmp_path / "o.txt"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "allinone-track: error:" in err and expected in err
    assert "Traceback" not in err


def test_video_without_init_box_is_an_error(tmp_path, ckpt, capsys):
    frames, _ = moving_target_frames(2)
    video = tmp_path / "in.avi"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for f in frames:
        w.write(f)
    w.release()
    assert main(["--checkpoint", str(ckpt), "--video", str(video), "--no-progress"]) == 2
    assert "--init-box" in capsys.readouterr().err


def test_onnxruntime_backend_writes_the_eager_boxes_plain_and_in_the_lifecycle(tmp_path, ckpt, sequence, capsys):
    seq, _ = sequence
    base = ["--checkpoint", str(ckpt), "--sequence", str(seq), "--threads", "1", "--no-progress"]
    cache = tmp_path / "engines"
    ort = ["--backend", "onnxruntime", "--engine-cache", str(cache)]
    for mode in (["--plain"], ["--grounder", "none"]):
        eager_out, ort_out = tmp_path / "eager.txt", tmp_path / "ort.txt"
        assert main(base + mode + ["--output", str(eager_out)]) == 0
        assert "eager fp32 (cpu)" in capsys.readouterr().err
        assert main(base + mode + ort + ["--output", str(ort_out)]) == 0
        assert "onnxruntime fp32 (cpu)" in capsys.readouterr().err
        np.testing.assert_allclose(np.loadtxt(ort_out, delimiter=","), np.loadtxt(eager_out, delimiter=","),
                                   rtol=0, atol=1e-3, err_msg=f"mode {mode}")
    assert len(list(cache.glob("*.onnx"))) == 1  # exported once, then taken from the cache


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize(("device", "expected"), [
    ("cpu", "backend 'tensorrt' runs on CUDA devices, but device is 'cpu'; use backend 'onnxruntime' or 'eager'"),
    ("cuda", "device 'cuda' requested but torch sees no CUDA GPU here; use device 'cpu' with backend 'onnxruntime'"),
])
def test_tensorrt_without_cuda_fails_with_a_user_error(tmp_path, ckpt, sequence, capsys, device, expected):
    seq, _ = sequence
    code = main(["--checkpoint", str(ckpt), "--sequence", str(seq), "--backend", "tensorrt", "--device", device,
                 "--engine-cache", str(tmp_path / "engines"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("allinone-track: error:") and expected in err  # what is missing, what to use instead
    assert "Traceback" not in err
