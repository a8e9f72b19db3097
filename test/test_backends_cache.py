"""Artifact cache: keyed by weights/shapes/precision/versions; stale or corrupt files never used silently."""
import json
import logging

import pytest
import torch

from allinone_ros.backends import ArtifactError, BackendConfig, InferenceGraph, create_backend
from allinone_ros.backends.cache import read_sidecar, sidecar_path, weights_sha256, write_sidecar
from allinone_ros.model import build_model, tiny_config
from backend_helpers import graph_inputs


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return build_model(tiny_config())


def _ort(model, tmp_path, **kw):
    return create_backend(model, BackendConfig(name="onnxruntime", cache_dir=str(tmp_path / "cache"), **kw))


def _check_equal_to_eager(backend, model):
    inputs = graph_inputs(model.cfg, seed=7)
    with torch.inference_mode():
        ref = model(*inputs)
    got = backend(*inputs)
    torch.testing.assert_close(got.score_map, ref.score_map, rtol=1e-3, atol=1e-4)
    assert torch.equal(got.kept_index, ref.kept_index)


def test_first_use_builds_and_records_the_key_then_reuses(model, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="allinone_ros.backends")
    backend = _ort(model, tmp_path)
    artifact = backend.artifact
    record = read_sidecar(artifact)
    key = record["key"]
    assert key["weights_sha256"] == weights_sha256(InferenceGraph(model))
    assert key["precision"] == "fp32" and key["opset"] == 17
    assert key["inputs"] == {"template": [1, 3, 128, 128], "search": [1, 3, 256, 256], "lang": [1, 64]}
    assert key["torch"] == torch.__version__
    assert "not cached yet" in caplog.text
    _check_equal_to_eager(backend, model)

    caplog.clear()
    mtime = artifact.stat().st_mtime_ns
    again = _ort(model, tmp_path)
    assert again.artifact == artifact and artifact.stat().st_mtime_ns == mtime
    assert "using cached" in caplog.text


def test_corrupt_artifact_is_rebuilt_with_a_reason(model, tmp_path, caplog):
    artifact = _ort(model, tmp_path).artifact
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING, logger="allinone_ros.backends")
    backend = _ort(model, tmp_path)
    assert "rebuilding" in caplog.text and "corrupt" in caplog.text
    _check_equal_to_eager(backend, model)


def test_corrupt_artifact_is_refused_when_asked(model, tmp_path):
    artifact = _ort(model, tmp_path).artifact
    artifact.write_bytes(artifact.read_bytes()[:1000])  # truncated
    with pytest.raises(ArtifactError, match="corrupt") as err:
        _ort(model, tmp_path, on_mismatch="error")
    assert str(artifact) in str(err.value)


def test_key_mismatch_is_rebuilt_naming_the_difference(model, tmp_path, caplog):
    artifact = _ort(model, tmp_path).artifact
    side = sidecar_path(artifact)
    record = json.loads(side.read_text())
    record["key"]["torch"] = "1.0.0"
    side.write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match="torch: built for 1.0.0"):
        _ort(model, tmp_path, on_mismatch="error")
    caplog.set_level(logging.WARNING, logger="allinone_ros.backends")
    _ort(model, tmp_path)
    assert "torch: built for 1.0.0" in caplog.text
    assert read_sidecar(artifact)["key"]["torch"] == torch.__version__


def test_an_artifact_for_other_weights_is_not_used(model, tmp_path):
    """An explicit artifact path built from other weights: the weights hash in its key differs."""
    path = tmp_path / "given.onnx"
    create_backend(model, BackendConfig(name="onnxruntime", artifact=str(path)))
    torch.manual_seed(1)
    other = build_model(tiny_config())
    with pytest.raises(ArtifactError, match="weights_sha256"):
        create_backend(other, BackendConfig(name="onnxruntime", artifact=str(path), on_mismatch="error"))
    backend = create_backend(other, BackendConfig(name="onnxruntime", artifact=str(path)))
    _check_equal_to_eager(backend, other)


def test_missing_sidecar_and_unloadable_file_are_reported(model, tmp_path, caplog):
    path = tmp_path / "given.onnx"
    path.write_bytes(b"not an onnx file")
    with pytest.raises(ArtifactError, match="key file given.onnx.json is missing"):
        create_backend(model, BackendConfig(name="onnxruntime", artifact=str(path), on_mismatch="error"))
    # A garbage file whose sidecar matches (key and sha256): onnxruntime cannot load it -> rebuilt.
    graph = InferenceGraph(model)
    from allinone_ros.backends.onnx_export import onnx_key

    write_sidecar(path, onnx_key(graph, "fp32", 17))
    caplog.set_level(logging.WARNING, logger="allinone_ros.backends")
    backend = create_backend(model, BackendConfig(name="onnxruntime", artifact=str(path)))
    assert "onnxruntime cannot load it" in caplog.text
    _check_equal_to_eager(backend, model)


def test_weights_hash_follows_every_tensor(model):
    graph = InferenceGraph(model)
    before = weights_sha256(graph)
    assert weights_sha256(InferenceGraph(model)) == before
    with torch.no_grad():
        model.box_head.conv5_ctr.bias.add_(1e-6)
    assert weights_sha256(graph) != before
    # Training-only weights are not part of the inference graph, so they do not change the key.
    after = weights_sha256(graph)
    with torch.no_grad():
        model.backbone.vision_x_proj.weight.add_(1.0)
    assert weights_sha256(graph) == after


def test_build_engine_cli_builds_reuses_and_refuses(tmp_path, capsys):
    from allinone_ros.cli.build_engine import main
    from builders import tiny_checkpoint

    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    cache = tmp_path / "cache"
    args = [str(ckpt), "--backend", "onnxruntime", "--precision", "fp32", "--device", "cpu",
            "--cache-dir", str(cache)]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    artifact = cache / printed["artifact"].split("/")[-1]
    assert artifact.is_file() and printed["key"]["precision"] == "fp32"
    artifact.write_bytes(b"garbage")
    assert main(args + ["--on-mismatch", "error"]) == 2  # ArtifactError is a user error: exit 2 like the others
    err = capsys.readouterr().err
    assert "allinone-build-engine: error" in err and "corrupt" in err
    assert main(args + ["--force"]) == 0
    assert json.loads(capsys.readouterr().out)["artifact"] == printed["artifact"]
    assert sidecar_path(artifact).is_file() and artifact.stat().st_size > 1000


def test_build_engine_cli_explains_tensorrt_on_cpu(tmp_path, capsys):
    from allinone_ros.cli.build_engine import main
    from builders import tiny_checkpoint

    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    # a user error: one line, exit 2, as in every CLI
    assert main([str(ckpt), "--backend", "tensorrt", "--device", "cpu", "--cache-dir", str(tmp_path)]) == 2
    assert "runs on CUDA devices" in capsys.readouterr().err


def test_cache_artifacts_get_mode_0644_not_mkstemps_0600(tmp_path, capsys):
    """The artifact and its key file are made through mkstemp (0600); the CLI leaves them 0644, even under umask 077."""
    import os
    import stat

    from allinone_ros.cli.build_engine import main
    from builders import tiny_checkpoint

    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    cache = tmp_path / "cache"
    old = os.umask(0o077)
    try:
        assert main([str(ckpt), "--backend", "onnxruntime", "--device", "cpu", "--cache-dir", str(cache)]) == 0
    finally:
        os.umask(old)
    artifact = cache / json.loads(capsys.readouterr().out)["artifact"].split("/")[-1]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (artifact, sidecar_path(artifact))}
    assert modes == {artifact.name: 0o644, sidecar_path(artifact).name: 0o644}
