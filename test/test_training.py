"""Training: loss goes down, checkpoints load into the tracker, exact resume, keep-rate warm-up,
strict YAML, the backbone's lower learning rate and fine-tuning from a released-format file."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from allinone_ros.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from allinone_ros.cli.train import main as train_main
from allinone_ros.config_io import ConfigError, to_dict
from allinone_ros.data.frames import read_frame
from allinone_ros.data.sequence import read_sequence_dir
from allinone_ros.data.synthetic import SyntheticConfig, generate_dataset
from allinone_ros.model import build_model, tiny_config
from allinone_ros.tracker import Tracker
from allinone_ros.training.config import ExperimentConfig, experiment_from_dict, load_experiment
from allinone_ros.training.finetune import init_from_checkpoint
from allinone_ros.training.losses import keep_rate_schedule
from allinone_ros.training.optim import build_optimizer, build_scheduler, freeze_unused
from allinone_ros.training.state import latest_checkpoint, load_training_state
from allinone_ros.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]

# A tiny network on 32/64 px crops: 2x2 template and 4x4 search tokens, CE after blocks 1 and 2.
TINY_MODEL = to_dict(tiny_config(template_size=32, search_size=64, drop_path_rate=0.1))


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The trainer sets torch's thread count (run.threads); give other tests theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, SyntheticConfig(num_sequences=2, num_frames=20, frame_width=128, frame_height=96, seed=7))
    return root


def experiment(data_root: Path, **sections) -> ExperimentConfig:
    """Tiny experiment: 16 samples per epoch, batch 4 (4 steps per epoch), no workers, no TensorBoard."""
    base = {
        "model": dict(TINY_MODEL),
        "data": {"sources": [{"kind": "synthetic", "root": str(data_root)}], "samples_per_epoch": 16,
                 "max_gap": 10, "num_workers": 0},
        "optim": {"batch_size": 4, "lr": 1.0e-3},
        "schedule": {"epochs": 2, "lr_drop_epochs": [3], "keep_rate_warmup": [0.5, 1.5]},
        "run": {"seed": 11, "device": "cpu", "tensorboard": False, "progress": False, "threads": 1},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return experiment_from_dict(base)


def test_loss_goes_down(synth_root, tmp_path):
    # One sequence-pair distribution, no jitter or augmentation: the model must fit it quickly.
    exp = experiment(
        synth_root,
        data={"samples_per_epoch": 32, "center_jitter": 0.0, "scale_jitter": 0.0, "brightness_jitter": 0.0},
        optim={"batch_size": 8, "lr": 2.0e-3, "backbone_lr_scale": 1.0},
        schedule={"epochs": 6, "keep_rate_warmup": [10.0, 20.0]},
        model={"drop_path_rate": 0.0},
    )
    summary = Trainer(exp, tmp_path / "run").fit()
    losses = [h["total"] for h in summary.history]
    assert summary.global_step == 24 == len(losses)
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    assert last < 0.8 * first, f"loss did not go down: first steps {losses[:4]}, last steps {losses[-4:]}"


def test_checkpoints_load_into_tracker(synth_root, tmp_path):
    out = tmp_path / "run"
    summary = Trainer(experiment(synth_root, schedule={"epochs": 1}), out).fit()
    seq = read_sequence_dir(synth_root / "uav" / "uav-1")
    for path in (summary.final_model, latest_checkpoint(out) / "model.safetensors"):
        model = load_model(path)  # strict: every key fits the config stored in the file
        assert model.cfg.template_size == 32 and model.cfg.embed_dim == TINY_MODEL["embed_dim"]
        tracker = Tracker(model)
        tracker.initialize(read_frame(seq.frame_paths[0]), seq.boxes_xywh[0], seq.sentence)
        result = tracker.track(read_frame(seq.frame_paths[1]))
        assert result.box_xywh.shape == (4,) and np.all(np.isfinite(result.box_xywh))
        assert result.box_xywh[2] > 0 and result.box_xywh[3] > 0
    meta = read_checkpoint(summary.final_model).meta
    assert meta["epoch"] == 1 and meta["global_step"] == 4
    assert meta["experiment"]["data"]["samples_per_epoch"] == 16


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_exact_resume_gives_identical_weights(synth_root, tmp_path):
    straight = Trainer(experiment(synth_root, schedule={"epochs": 2}), tmp_path / "a")
    straight.fit()

    first = Trainer(experiment(synth_root, schedule={"epochs": 1}), tmp_path / "b")
    first.fit()
    torch.manual_seed(12345)  # disturb every global RNG: resume must restore them
    np.random.seed(54321)
    resumed = Trainer(experiment(synth_root, schedule={"epochs": 2}), tmp_path / "b", resume=True)
    assert (resumed.epoch, resumed.global_step) == (1, 4)
    summary = resumed.fit()
    assert summary.global_step == 8

    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys()
    differing = [k for k in a if not torch.equal(a[k], b[k])]
    assert differing == []
    # The optimizer moments match too, and the weights did change during epoch 2.
    sa, sb = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    after_epoch1 = load_model(latest_checkpoint(tmp_path / "b").parent / "epoch_0001" / "model.safetensors")
    assert not torch.equal(after_epoch1.state_dict()["box_head.conv1_ctr.0.weight"], a["box_head.conv1_ctr.0.weight"])


def test_resume_without_checkpoint_is_a_clear_error(synth_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="no epoch checkpoint"):
        Trainer(experiment(synth_root), tmp_path / "empty", resume=True)


def test_keep_rate_warmup_is_applied_to_the_model(synth_root, tmp_path):
    exp = experiment(synth_root, schedule={"epochs": 2, "keep_rate_warmup": [0.5, 1.5]})
    summary = Trainer(exp, tmp_path / "run").fit()
    cfg = exp.model
    steps_per_epoch = 4
    ratios, kept = [], []
    for i, h in enumerate(summary.history):
        expected = keep_rate_schedule(i / steps_per_epoch, 0.5, 1.5, base_keep=cfg.ce_keep_ratio)
        assert h["keep_ratio"] == pytest.approx(expected)
        # the network really ran with that ratio: surviving search tokens after the last CE layer
        assert h["kept_tokens"] == cfg.kept_counts(expected)[-1]
        ratios.append(h["keep_ratio"])
        kept.append(h["kept_tokens"])
    assert ratios[0] == 1.0 and ratios[-1] == pytest.approx(cfg.ce_keep_ratio)
    assert kept[0] == cfg.num_search_tokens and kept[-1] < kept[0]


def test_yaml_with_unknown_key_fails_naming_it(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"optim": {"lr": 1.0e-3, "learning_rte": 0.1}}))
    with pytest.raises(ConfigError, match="learning_rte"):
        load_experiment(path)
    assert train_main(["--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "learning_rte" in capsys.readouterr().err

    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"optim": {"lr": 1.0e-3}}))
    with pytest.raises(ConfigError, match="warmup_epochs"):
        load_experiment(good, ["schedule.warmup_epochs=3"])
    with pytest.raises(ConfigError, match="unknown section 'optimizer'"):
        load_experiment(good, ["optimizer.lr=3"])
    with pytest.raises(ConfigError, match="lr must be a finite number, got '4e-4'"):
        load_experiment(good, ["optim.lr='4e-4'"])
    assert load_experiment(good, ["optim.lr=2.0e-3", "schedule.lr_drop_epochs=[5, 7]"]).schedule.lr_drop_epochs == (5, 7)


def test_shipped_experiment_configs_load():
    configs = sorted((REPO / "config").glob("train_*.yaml"))
    assert configs, "no config/train_*.yaml"
    for path in configs:
        if path.name.startswith("train_grounder_"):  # the built-in grounder's trainer
            from allinone_ros.training.grounding import load_grounding_experiment

            exp = load_grounding_experiment(path)
        elif path.name.startswith("train_verifier_"):  # the grounder's verifier
            from allinone_ros.training.verifier import load_verifier_experiment

            exp = load_verifier_experiment(path)
        else:
            exp = load_experiment(path)
        assert exp.data.sources, path


def test_backbone_param_group_has_a_tenth_of_the_lr():
    exp = experiment_from_dict({"model": TINY_MODEL, "optim": {"lr": 4.0e-4, "backbone_lr_scale": 0.1},
                                "schedule": {"lr_drop_epochs": [2]}})
    model = build_model(exp.model)
    freeze_unused(model)
    opt = build_optimizer(model, exp.optim)
    groups = {g["name"]: g for g in opt.param_groups}
    assert groups["backbone"]["lr"] == pytest.approx(4.0e-5)
    assert groups["head"]["lr"] == pytest.approx(4.0e-4)
    backbone_ids = {id(p) for p in groups["backbone"]["params"]}
    named = dict(model.named_parameters())
    assert backbone_ids == {id(p) for n, p in named.items() if n.startswith("backbone.") and p.requires_grad}
    assert id(named["box_head.conv1_ctr.0.weight"]) in {id(p) for p in groups["head"]["params"]}
    # frozen text embedding and the unused legacy parameters are not optimised
    optimised = backbone_ids | {id(p) for p in groups["head"]["params"]}
    assert id(named["backbone.pos_embed"]) not in optimised
    assert id(named["language_embeddings.word_embeddings.weight"]) not in optimised
    # the step schedule scales both groups by 0.1 at the configured epoch
    sched = build_scheduler(opt, exp.schedule)
    for _ in range(2):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([4.0e-6, 4.0e-5])


def test_finetune_from_released_format_reports_skipped_keys(synth_root, tmp_path, caplog):
    # A released-style trainer file ({"net": state_dict}) of an 'official' model: 64-d BERT
    # embedding layer, language_proj 64 -> 64.
    torch.manual_seed(0)
    official = build_model(tiny_config(template_size=32, search_size=64))
    released = tmp_path / "OSTrack_ep0300.pth.tar"
    torch.save({"net": official.state_dict(), "epoch": 300}, released)

    # Fine-tune it with the pretrained (MiniLM, 384-d) text encoder: language_proj differs.
    model_cfg = {**TINY_MODEL, "language_encoder": "pretrained", "text_dim": 384}
    model = build_model(experiment_from_dict({"model": model_cfg}).model)
    with caplog.at_level(logging.WARNING, logger="allinone_ros.training.finetune"):
        report = init_from_checkpoint(model, released)
    assert report.mismatched == ["backbone.language_proj.weight: file 64x64 vs model 64x384"]
    assert sorted(report.unexpected) == sorted(k for k in official.state_dict() if k.startswith("language_embeddings."))
    assert report.missing == []  # language_proj.bias (64,) fits; the MiniLM weights come from its package
    logged = caplog.text
    for key in [*report.unexpected, "backbone.language_proj.weight"]:
        assert f"skipped key {key}" in logged
    # what fitted was loaded
    assert torch.equal(model.state_dict()["box_head.conv1_ctr.0.weight"], official.state_dict()["box_head.conv1_ctr.0.weight"])

    # Through the CLI: the run starts from the file and writes the report beside it.
    cfg_path = tmp_path / "ft.yaml"
    exp = experiment(synth_root, model=model_cfg, schedule={"epochs": 1})
    cfg_path.write_text(yaml.safe_dump(to_dict(exp)))
    out = tmp_path / "ft_run"
    assert train_main(["--config", str(cfg_path), "--out", str(out), "--init-from", str(released), "-q"]) == 0
    saved = json.loads((out / "init_report.json").read_text())
    assert saved["mismatched"] == report.mismatched and saved["unexpected"] == report.unexpected
    assert load_model(out / "final.safetensors").cfg.language_encoder == "pretrained"
    assert load_training_state(latest_checkpoint(out)).epoch == 1


def test_finetune_from_our_own_checkpoint_loads_everything(tmp_path):
    torch.manual_seed(1)
    source = build_model(tiny_config(template_size=32, search_size=64))
    path = save_checkpoint(tmp_path / "ours.safetensors", source)
    torch.manual_seed(2)
    model = build_model(tiny_config(template_size=32, search_size=64))
    report = init_from_checkpoint(model, path)
    assert report.ok and not report.missing
    differing = [k for k, v in source.state_dict().items() if not torch.equal(v, model.state_dict()[k])]
    assert differing == []


def test_finetune_from_an_unrelated_checkpoint_fails(tmp_path):
    other = tmp_path / "other.pth"
    torch.save({"net": {"foo.weight": torch.zeros(2)}}, other)
    model = build_model(tiny_config(template_size=32, search_size=64))
    with pytest.raises(CheckpointError, match="no tensor of the file fits"):
        init_from_checkpoint(model, other)


def test_torchrun_two_processes_train_with_ddp(synth_root, tmp_path):
    # Two CPU processes (gloo): each takes every second sample of the epoch, so 16 samples at
    # batch 4 are 2 steps per epoch; rank 0 writes the checkpoints.
    exp = experiment(synth_root, schedule={"epochs": 1})
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text(yaml.safe_dump(to_dict(exp)))
    out = tmp_path / "ddp_run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "allinone_ros.cli.train", "--config", str(cfg_path), "--out", str(out), "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = read_checkpoint(out / "final.safetensors").meta
    assert meta["epoch"] == 1 and meta["global_step"] == 2
    load_model(out / "final.safetensors")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_device_without_cuda_is_a_clear_error(synth_root, tmp_path):
    with pytest.raises(RuntimeError, match="run.device 'cuda' requested but CUDA is not available"):
        Trainer(experiment(synth_root, run={"device": "cuda"}), tmp_path / "run")
