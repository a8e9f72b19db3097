"""Inference settings (crop factors) travel with the checkpoint: a network trained with search factor 5
tracks with 5, explicit CLI flags and node parameters win, files without settings run with the
paper's 2.0 / 4.0, malformed stored settings fail naming the key; and the one device-string check."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from allinone_ros.backends import BackendConfig
from allinone_ros.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from allinone_ros.cli.track import main as track_main
from allinone_ros.config_io import to_dict
from allinone_ros.ops.devices import validate_device
from allinone_ros.grounding import GrounderConfig
from allinone_ros.lifecycle import build_tracker
from allinone_ros.model import build_model, tiny_config
from allinone_ros.ros.node_checks import check_value
from allinone_ros.ros.node_params import SPECS
from allinone_ros.tracker import Tracker, TrackerConfig
from allinone_ros.model.inference_settings import InferenceSettings
from allinone_ros.training.config import RunConfig
from allinone_ros.training.trainer import Trainer
from builders import moving_target_frames, write_sequence
from test_training import _restore_torch_threads, experiment, synth_root  # noqa: F401 (fixtures)

TINY = dict(template_size=32, search_size=64)


@pytest.fixture(scope="module")
def trained_factor5(synth_root, tmp_path_factory) -> Path:
    """The final model of a real (4-step) training run whose experiment crops the search region at 5x."""
    exp = experiment(synth_root, data={"search_factor": 5.0}, schedule={"epochs": 1})
    summary = Trainer(exp, tmp_path_factory.mktemp("train5") / "run").fit()
    assert summary.final_model is not None
    return summary.final_model


def _first_search_crop(tracker: Tracker, frames: list[np.ndarray], box_xywh: np.ndarray):
    tracker.initialize(frames[0], box_xywh, "the red box")
    return tracker.track(frames[1])


def test_checkpoint_trained_with_search_factor_5_tracks_with_5(trained_factor5, caplog):
    assert read_checkpoint(trained_factor5).inference == InferenceSettings(template_factor=2.0, search_factor=5.0)
    frames, boxes = moving_target_frames(2)
    with caplog.at_level(logging.INFO, logger="allinone_ros"):
        tracker = build_tracker(trained_factor5)  # the factory of the CLIs and the evaluation
    assert "search_factor 5 (stored in" in caplog.text and "template_factor 2 (stored in" in caplog.text
    result = _first_search_crop(tracker, frames, boxes[0])
    w, h = boxes[0][2:]
    assert result.crop.side == math.ceil(math.sqrt(w * h) * 5.0)  # 5 target sizes, in image pixels
    # the same boxes as a tracker told factor 5 explicitly, not those of the paper's 4
    model = load_model(trained_factor5)
    explicit5 = _first_search_crop(Tracker(model, TrackerConfig(search_factor=5.0)), frames, boxes[0])
    paper = _first_search_crop(Tracker(model, TrackerConfig()), frames, boxes[0])
    np.testing.assert_array_equal(result.box_xywh, explicit5.box_xywh)
    assert paper.crop.side == math.ceil(math.sqrt(w * h) * 4.0) != result.crop.side


def test_epoch_checkpoints_store_the_settings_too(trained_factor5):
    epoch_model = trained_factor5.parent / "checkpoints" / "epoch_0001" / "model.safetensors"
    assert read_checkpoint(epoch_model).inference.search_factor == 5.0


def test_explicit_tracker_config_beats_the_checkpoint(trained_factor5, caplog):
    with caplog.at_level(logging.INFO, logger="allinone_ros"):
        tracker = build_tracker(trained_factor5, TrackerConfig(search_factor=3.0))
    assert tracker.config.search_factor == 3.0 and tracker.config.template_factor == 2.0
    assert "search_factor 3 (explicit override)" in caplog.text


def test_cli_flag_beats_the_checkpoint(trained_factor5, tmp_path):
    frames, boxes = moving_target_frames(5)
    seq = write_sequence(tmp_path / "seq", frames, boxes)
    common = ["--checkpoint", str(trained_factor5), "--sequence", str(seq), "--plain", "--no-progress"]
    assert track_main(common + ["--output", str(tmp_path / "stored.txt")]) == 0
    assert track_main(common + ["--output", str(tmp_path / "flag.txt"), "--search-factor", "3",
                                "--template-factor", "1.5"]) == 0

    def run(config: TrackerConfig) -> np.ndarray:  # the same frames, as the CLI read them, through a plain Tracker
        from allinone_ros.data.frames import read_frame
        from allinone_ros.data.sequence import read_sequence_dir

        s = read_sequence_dir(seq)
        tracker = Tracker(load_model(trained_factor5), config)
        tracker.initialize(read_frame(s.frame_paths[0]), s.init_box_xywh, s.sentence)
        return np.array([s.init_box_xywh] + [tracker.track(read_frame(p)).box_xywh for p in s.frame_paths[1:]])

    np.testing.assert_allclose(np.loadtxt(tmp_path / "stored.txt", delimiter=","),
                               run(TrackerConfig(search_factor=5.0)), atol=1e-3)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "flag.txt", delimiter=","),
                               run(TrackerConfig(template_factor=1.5, search_factor=3.0)), atol=1e-3)


def test_cli_rejects_a_bad_factor_naming_it(trained_factor5, tmp_path, capsys):
    frames, boxes = moving_target_frames(2)
    seq = write_sequence(tmp_path / "seq", frames, boxes)
    assert track_main(["--checkpoint", str(trained_factor5), "--sequence", str(seq), "--plain", "--no-progress",
                       "--search-factor", "-2"]) == 2
    assert "search_factor must be a finite number > 0, got -2.0" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_every_format_we_write_stores_and_reads_back_the_settings(tmp_path, suffix):
    model = build_model(tiny_config(**TINY))
    path = save_checkpoint(tmp_path / f"m{suffix}", model, inference=InferenceSettings(3.0, 6.5))
    assert read_checkpoint(path).inference == InferenceSettings(template_factor=3.0, search_factor=6.5)
    default = save_checkpoint(tmp_path / f"d{suffix}", model)  # no settings given: the paper's are stored
    assert read_checkpoint(default).inference == InferenceSettings(template_factor=2.0, search_factor=4.0)


def test_files_without_settings_run_with_the_papers_factors(tmp_path, caplog):
    from safetensors.torch import save_file

    model = build_model(tiny_config(**TINY))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    old_ours = tmp_path / "old.safetensors"  # written before settings were stored: config only
    save_file(state, str(old_ours), metadata={"format": "allinone_ros",
                                              "allinone_config": json.dumps(to_dict(model.cfg))})
    released_style = tmp_path / "released.pth"  # the release's layout: weights under "net", nothing else
    torch.save({"net": state, "epoch": 300}, released_style)
    for path in (old_ours, released_style):
        assert read_checkpoint(path).inference is None
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="allinone_ros"):
            tracker = build_tracker(path)
        assert (tracker.config.template_factor, tracker.config.search_factor) == (2.0, 4.0)
        assert "search_factor 4 (paper default;" in caplog.text


def test_older_checkpoints_of_ours_use_the_factors_of_their_stored_training_experiment(tmp_path):
    from safetensors.torch import save_file

    model = build_model(tiny_config(**TINY))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    md = {"format": "allinone_ros", "allinone_config": json.dumps(to_dict(model.cfg))}
    older = tmp_path / "older.safetensors"  # what the trainer wrote before the settings had their own key
    save_file(state, str(older), metadata={**md, "experiment": json.dumps({"data": {"search_factor": 5.0}})})
    tracker = build_tracker(older)
    assert (tracker.config.template_factor, tracker.config.search_factor) == (2.0, 5.0)
    bad = tmp_path / "bad_experiment.safetensors"
    save_file(state, str(bad), metadata={**md, "experiment": json.dumps({"data": {"search_factor": 0}})})
    with pytest.raises(CheckpointError, match=r"experiment\.data.*search_factor must be a finite number > 0, got 0"):
        read_checkpoint(bad)


def test_shipped_default_model_runs_with_the_papers_factors():
    from allinone_ros.tracker.factory import default_model_path

    tracker = build_tracker(None)  # the node's and the CLIs' default
    assert (tracker.config.template_factor, tracker.config.search_factor) == (2.0, 4.0)
    assert read_checkpoint(default_model_path()).inference == InferenceSettings()


@pytest.mark.parametrize("stored, named", [
    ('{"template_factor": 2.0, "search_factor": -1}', "search_factor"),
    ('{"template_factor": "big", "search_factor": 4.0}', "template_factor"),
    ('{"template_factor": 2.0}', "missing key(s) ['search_factor']"),
    ('{"template_factor": 2.0, "search_factor": 4.0, "window": 1}', "unknown key(s) ['window']"),
    ("not json", "'not json'"),
])
def test_malformed_stored_settings_fail_naming_key_and_value(tmp_path, stored, named):
    from safetensors.torch import save_file

    model = build_model(tiny_config(**TINY))
    path = tmp_path / "bad.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"format": "allinone_ros", "allinone_config": json.dumps(to_dict(model.cfg)),
                        "inference_settings": stored})
    with pytest.raises(CheckpointError) as err:
        build_tracker(path)
    assert str(path) in str(err.value) and named in str(err.value)
    if "-1" in stored:
        assert "got -1" in str(err.value)


def test_training_sampler_and_tracker_defaults_are_the_papers():
    from allinone_ros.data.sampling import PairSamplingConfig
    from allinone_ros.training.config import DataConfig

    paper = InferenceSettings()
    assert (paper.template_factor, paper.search_factor) == (2.0, 4.0)
    assert DataConfig().inference_settings() == paper
    assert (PairSamplingConfig().template_factor, PairSamplingConfig().search_factor) == (2.0, 4.0)
    assert Tracker(build_model(tiny_config(**TINY))).config.search_factor == 4.0


# --------------------------------------------------------------------------- node parameters


def test_node_crop_parameters_default_to_the_checkpoint_and_override_it(tmp_path):
    from allinone_ros.ros.node_checks import Environment
    from allinone_ros.ros.node_config import settings_from_values
    from allinone_ros.ros.node_params import defaults

    model = tmp_path / "default.safetensors"
    model.write_bytes(b"x")  # the default checkpoint only needs to exist for the value checks
    env = Environment(cuda_device_count=lambda: 0, default_model=lambda: model, topic_name_error=lambda name: None)
    for name in ("template_factor", "search_factor"):
        assert SPECS[name].default == 0.0 and SPECS[name].apply == "configure" and SPECS[name].range == (0.0, 100.0)
    values = defaults()
    assert settings_from_values(values, env).tracker_config() == TrackerConfig()  # unset
    values.update(search_factor=5.0, template_factor=1.5)
    config = settings_from_values(values, env).tracker_config()
    assert (config.template_factor, config.search_factor) == (1.5, 5.0)
    assert check_value("search_factor", -1.0) == "search_factor must be in [0.0, 100.0], got -1.0"


def test_node_uses_the_checkpoint_factor_and_a_parameter_overrides_it(tmp_path):
    from ros_helpers import NodeProcess, Peer, installed_command, require_ros, unique_domain_id

    require_ros()
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "f5.safetensors", build_model(tiny_config()),
                           inference=InferenceSettings(search_factor=5.0))
    domain = unique_domain_id()
    node = NodeProcess(installed_command(), {"checkpoint": str(ckpt), "autostart": False, "cpu_threads": 1},
                       domain, tmp_path / "node")
    peer = None
    try:
        assert node.wait_for_log(r"autostart is false", timeout=60), node.log_text()
        peer = Peer(domain)
        assert peer.change_state("configure")
        assert node.wait_for_log(r"crops: template 2x -> \d+ px, search 5x", 10), node.log_text()[-2000:]
        assert peer.change_state("cleanup")
        (result,) = peer.set_parameters(search_factor=3.0)
        assert result.successful, result.reason
        mark = node.log_size()
        assert peer.change_state("configure")
        assert node.wait_for_log(r"crops: template 2x -> \d+ px, search 3x", 10, after=mark), node.log_text()[-2000:]
        (refused,) = peer.set_parameters(search_factor=6.0)  # configure-time: refused while configured
        assert not refused.successful and "configure transition" in refused.reason
    finally:
        if peer is not None:
            peer.close()
        code = node.stop()
    assert code == 0, node.log_text()[-3000:]


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_strings_accepted(device):
    assert validate_device(device) == device
    for make in (lambda d: TrackerConfig(device=d), lambda d: BackendConfig(device=d),
                 lambda d: GrounderConfig(device=d), lambda d: RunConfig(device=d)):
        assert make(device).device == device
    assert check_value("device", device) is None


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU", "", "cuda:-1", "mps", 0])
def test_device_strings_refused_everywhere_naming_the_value(device):
    with pytest.raises(ValueError, match=f"device must be one of 'cpu', 'cuda', 'cuda:N', got {device!r}"):
        validate_device(device)
    for make in (lambda d: TrackerConfig(device=d), lambda d: BackendConfig(device=d),
                 lambda d: GrounderConfig(device=d), lambda d: RunConfig(device=d)):
        with pytest.raises(ValueError, match=repr(device)):
            make(device)


def test_auto_only_where_allowed():
    assert validate_device("auto", allow_auto=True) == "auto" and RunConfig(device="auto").device == "auto"
    with pytest.raises(ValueError, match="got 'auto'"):
        TrackerConfig(device="auto")
    with pytest.raises(ValueError, match="run.device must be one of 'auto', 'cpu', 'cuda', 'cuda:N', got 'gpu'"):
        validate_device("gpu", allow_auto=True, name="run.device")


def test_tracker_and_backend_devices_must_agree():
    from allinone_ros.backends.backend_tracker import make_tracker
    from allinone_ros.evaluation.runner import EvalJob

    with pytest.raises(ValueError, match=r"devices differ \(tracker 'cpu', backend 'cuda:1'\)"):
        EvalJob(tracker=TrackerConfig(device="cpu"), backend=BackendConfig(name="eager", device="cuda:1"))
    with pytest.raises(ValueError, match=r"devices differ \(tracker 'cuda', backend 'cpu'\)"):
        make_tracker(build_model(tiny_config(**TINY)), TrackerConfig(device="cuda"), BackendConfig(name="eager"))
