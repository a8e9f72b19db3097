"""Checkpoint loading: released format (full size, from the manifest), trainer pickles with foreign
classes, malicious pickles, strictness, our own format and safetensors."""
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from allinone_ros.checkpoint import (
    CheckpointError, UnsafeCheckpointError, load_model, read_checkpoint, save_checkpoint,
)
from allinone_ros.model import ModelConfig, build_model, tiny_config
from builders import manifest_state_dict, moving_target_frames, write_sequence


@pytest.fixture(scope="module")
def released_sd():
    return manifest_state_dict(seed=0)


def _foreign_module(name: str) -> types.ModuleType:
    """Create modules like ``lib.train.admin.stats`` so pickle can record classes from them."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    return sys.modules[name]


def _forget_foreign_modules():
    for m in [m for m in sys.modules if m == "lib" or m.startswith("lib.")]:
        del sys.modules[m]


def _write_trainer_checkpoint(path: Path, state: dict) -> None:
    """Save like the authors' trainer: weights + epoch + optimizer + objects of their classes."""
    stats = _foreign_module("lib.train.admin.stats")
    settings = _foreign_module("lib.train.admin.settings")

    class AverageMeter:
        def __init__(self):
            self.val, self.avg, self.sum, self.count = 0.5, 0.4, 4.0, 10

    class Settings:
        def __init__(self):
            self.env = {"workspace_dir": "/nonexistent"}
            self.script_name = "ostrack"

    AverageMeter.__module__, AverageMeter.__qualname__ = stats.__name__, "AverageMeter"
    Settings.__module__, Settings.__qualname__ = settings.__name__, "Settings"
    stats.AverageMeter, settings.Settings = AverageMeter, Settings
    torch.save(
        {"net": state, "epoch": 300, "actor_type": "OSTrackActor", "net_type": "OSTrack",
         "optimizer": {"state": {}, "param_groups": [{"lr": 4e-5}]},
         "stats": {"Loss/total": AverageMeter()}, "settings": Settings()},
        path,
    )
    _forget_foreign_modules()


def test_full_size_released_checkpoint_loads_strictly(tmp_path, released_sd):
    path = tmp_path / "OSTrack_ep0300.pth.tar"
    state = dict(released_sd)
    state["language_embeddings.position_ids"] = torch.arange(40).unsqueeze(0)  # legacy buffer: accepted
    _write_trainer_checkpoint(path, state)
    with pytest.raises(ImportError):
        __import__("lib.train.admin.stats")  # the classes really cannot be imported
    model = load_model(path)
    assert model.cfg == ModelConfig()
    loaded = model.state_dict()
    for key, value in released_sd.items():
        assert torch.equal(loaded[key], value), key


def test_plain_state_dict_file_loads(tmp_path, released_sd):
    path = tmp_path / "plain.pth"
    torch.save(released_sd, path)
    model = load_model(path)
    assert torch.equal(model.state_dict()["box_head.conv5_ctr.bias"], released_sd["box_head.conv5_ctr.bias"])


@pytest.mark.parametrize("change", ["removed", "renamed", "reshaped"])
def test_mismatched_full_size_checkpoint_fails_naming_file_and_key(tmp_path, released_sd, change):
    state = dict(released_sd)
    key = "backbone.blocks.7.attn.qkv.bias"
    if change == "removed":
        del state[key]
        expect = ["missing", key]
    elif change == "renamed":
        state["backbone.blocks.7.attn.qkv.b"] = state.pop(key)
        expect = ["missing", key, "unexpected", "backbone.blocks.7.attn.qkv.b"]
    else:
        state[key] = torch.zeros(2303)
        expect = ["shape mismatch", key, "2303", "2304"]
    path = tmp_path / f"{change}.pth"
    torch.save({"net": state}, path)
    with pytest.raises(CheckpointError) as err:
        load_model(path, config=ModelConfig())
    msg = str(err.value)
    assert str(path) in msg
    for piece in expect:
        assert piece in msg


def test_pickle_calling_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    torch.save({"net": {"w": torch.zeros(1)}, "payload": Evil()}, path)
    with pytest.raises(UnsafeCheckpointError, match="system"):
        read_checkpoint(path)
    assert not marker.exists()
    # In a separate process through the CLI: a clean message, no traceback, nothing executed.
    frames, boxes = moving_target_frames(2)
    seq = write_sequence(tmp_path / "seq", frames, boxes)
    out = subprocess.run(
        [sys.executable, "-m", "allinone_ros.cli.track", "--checkpoint", str(path), "--sequence", str(seq)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "posix.system" in out.stderr or "os.system" in out.stderr
    assert not marker.exists()


def test_truncated_and_garbage_files_fail_clearly(tmp_path):
    model = build_model(tiny_config())
    good = save_checkpoint(tmp_path / "good.pth", model)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{bad json")
    for path in (truncated, garbage, bad_st, tmp_path / "absent.pth"):
        with pytest.raises(CheckpointError) as err:
            load_model(path)
        assert str(path) in str(err.value)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_our_checkpoint_round_trip_rebuilds_the_model(tmp_path, suffix):
    cfg = tiny_config(embed_dim=48, num_heads=3, depth=3, ce_layers=(1,))
    model = build_model(cfg)
    torch.nn.init.normal_(model.backbone.pos_embed_x, std=0.5)
    path = save_checkpoint(tmp_path / f"ours{suffix}", model, meta={"epoch": 3})
    loaded = load_model(path)  # no config given: it comes from the file
    assert loaded.cfg == cfg
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    z, x = torch.randn(1, 3, 128, 128), torch.randn(1, 3, 256, 256)
    lang = torch.nn.functional.normalize(torch.randn(1, 48), dim=-1)
    with torch.inference_mode():
        assert torch.equal(model(z, x, lang).score_map, loaded(z, x, lang).score_map)
    assert read_checkpoint(path).meta == {"epoch": 3}


def test_pretrained_text_checkpoint_omits_frozen_encoder_and_reloads_it(tmp_path):
    cfg = tiny_config(language_encoder="pretrained", text_dim=384)
    model = build_model(cfg)
    path = save_checkpoint(tmp_path / "small.safetensors", model)
    raw = read_checkpoint(path)
    assert not any(k.startswith("text_encoder.") for k in raw.state_dict)
    assert path.stat().st_size < 20e6  # the 22 M-parameter MiniLM is not stored
    loaded = load_model(path)
    ref = model.state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(ref[key], value), key


def test_infer_config_from_released_shapes(released_sd):
    from allinone_ros.checkpoint import infer_config
    assert infer_config(released_sd) == ModelConfig()
