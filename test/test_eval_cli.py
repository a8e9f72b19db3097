"""``allinone-eval`` end to end on a generated LaSOT-layout dataset: results, resume, tables, plots."""
import numpy as np
import pytest
import torch

from allinone_ros.cli.eval import main
from allinone_ros.evaluation.results import read_boxes_file
from builders import moving_target_frames, tiny_checkpoint, write_sequence


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("lasot")
    for i, (vel, cls) in enumerate([((4.0, 2.0), "car"), ((-3.0, 1.0), "car"), ((2.0, -2.0), "boat")]):
        frames, boxes = moving_target_frames(5, box=(150.0, 100.0, 40.0, 30.0), velocity=vel, seed=i)
        write_sequence(root / cls / f"{cls}-{i + 1}", frames, boxes, sentence=f"the red box number {i}")
    return root


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pth")


def test_eval_writes_results_times_and_report(tmp_path, dataset, ckpt, capsys):
    out = tmp_path / "eval"
    code = main(["--dataset-root", str(dataset), "--checkpoint", str(ckpt), "--out", str(out), "--workers", "2",
                 "--threads", "1", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    names = ["boat-3", "car-1", "car-2"]
    for name in names:
        boxes = read_boxes_file(out / "tiny" / f"{name}.txt")
        assert boxes.shape == (5, 4)
        gt = np.loadtxt(dataset / name.split("-")[0] / name / "groundtruth.txt", delimiter=",")
        np.testing.assert_allclose(boxes[0], gt[0], atol=1e-3)  # frame 1 = ground truth
        times = np.loadtxt(out / "tiny" / f"{name}_time.txt")
        assert times.shape == (5,) and np.all(times > 0)
    for f in ("summary.md", "summary.csv", "success.png", "precision.png"):
        assert (out / "report" / f).is_file()
    assert "AUC" in (out / "report" / "summary.md").read_text()


def test_eval_resumes_finished_sequences(tmp_path, dataset, ckpt):
    out = tmp_path / "eval"
    args = ["--dataset-root", str(dataset), "--checkpoint", str(ckpt), "--out", str(out), "--no-progress",
            "--no-metrics", "--name", "run"]
    assert main(args) == 0
    kept = out / "run" / "car-1.txt"
    kept.write_text("1,1,1,1\n" * 5)  # a finished result must not be recomputed
    (out / "run" / "boat-3.txt").unlink()
    assert main(args) == 0
    assert kept.read_text() == "1,1,1,1\n" * 5
    assert read_boxes_file(out / "run" / "boat-3.txt").shape == (5, 4)


def test_box_only_mode_and_sequence_subset(tmp_path, dataset, ckpt):
    out = tmp_path / "e"
    assert main(["--dataset-root", str(dataset), "--checkpoint", str(ckpt), "--out", str(out), "--mode", "box",
                 "--sequences", "car-2", "--no-progress", "--no-metrics"]) == 0
    assert sorted(p.name for p in (out / "tiny").glob("*.txt")) == [
        "car-2.txt", "car-2_confidence.txt", "car-2_state.txt", "car-2_time.txt"]


def test_nl_only_without_grounder_and_unknown_sequence_fail_clearly(tmp_path, dataset, ckpt, capsys):
    base = ["--dataset-root", str(dataset), "--checkpoint", str(ckpt), "--out", str(tmp_path), "--no-progress"]
    assert main(base + ["--mode", "nl", "--grounder", "none"]) == 2
    assert "mode 'nl' (start from the sentence alone) needs a grounder" in capsys.readouterr().err
    assert main(base + ["--mode", "nl", "--grounder", str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors" in capsys.readouterr().err
    assert main(base + ["--sequences", "nope-7"]) == 2
    assert "nope-7" in capsys.readouterr().err


def test_onnxruntime_backend_in_two_workers_writes_the_eager_boxes(tmp_path, dataset, ckpt, capsys):
    base = ["--dataset-root", str(dataset), "--checkpoint", str(ckpt), "--threads", "1", "--no-progress",
            "--no-metrics"]
    cache = tmp_path / "engines"
    assert main(base + ["--out", str(tmp_path / "eager")]) == 0, capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "ort"), "--workers", "2", "--backend", "onnxruntime",
                        "--engine-cache", str(cache)]) == 0, capsys.readouterr().err
    for name in ("boat-3", "car-1", "car-2"):
        np.testing.assert_allclose(read_boxes_file(tmp_path / "ort" / "tiny" / f"{name}.txt"),
                                   read_boxes_file(tmp_path / "eager" / "tiny" / f"{name}.txt"), rtol=0, atol=1e-3)
    # built once by the parent before the workers started; both workers used that one entry
    (onnx,) = cache.glob("*.onnx")
    assert sorted(p.name for p in cache.iterdir()) == [onnx.name, onnx.name + ".json"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_tensorrt_without_cuda_fails_before_the_workers_start(tmp_path, dataset, ckpt, capsys):
    code = main(["--dataset-root", str(dataset), "--checkpoint", str(ckpt), "--out", str(tmp_path / "e"),
                 "--workers", "2", "--backend", "tensorrt", "--engine-cache", str(tmp_path / "engines"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("allinone-eval: error:") and "Traceback" not in err
    assert "backend 'tensorrt' runs on CUDA devices" in err and "use backend 'onnxruntime' or 'eager'" in err
    assert not list((tmp_path / "e").rglob("*.txt"))
