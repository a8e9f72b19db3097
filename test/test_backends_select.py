"""Backend selection, the eager/compile backends, and what an unavailable backend says."""
import logging
import re
import sys

import onnxruntime as ort
import pytest
import torch

from allinone_ros.backends import BackendConfig, BackendUnavailableError, available_backends, create_backend
from allinone_ros.backends.ort import resolve_providers
from allinone_ros.backends.trt import import_torch_tensorrt, parse_version, precision_plan
from allinone_ros.model import build_model, tiny_config
from backend_helpers import graph_inputs

NO_CUDA = not torch.cuda.is_available()


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return build_model(tiny_config())


def test_auto_on_cpu_times_eager_and_onnxruntime_and_keeps_the_faster(model, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="allinone_ros.backends")
    backend = create_backend(model, BackendConfig(name="auto", cache_dir=str(tmp_path), auto_probe_runs=3))
    line = next(r.message for r in caplog.records if r.message.startswith("auto: eager"))
    eager_ms, ort_ms = (float(v) for v in re.findall(r"([0-9.]+) ms", line))
    assert backend.name == ("onnxruntime" if ort_ms < eager_ms else "eager")
    probe = backend.info["auto_probe_ms"]
    assert probe["eager"] == pytest.approx(eager_ms, abs=0.051)
    assert probe["onnxruntime"] == pytest.approx(ort_ms, abs=0.051)
    assert backend.device == torch.device("cpu") and backend.precision == "fp32"


def test_auto_on_cpu_without_timing_prefers_onnxruntime(model, tmp_path):
    backend = create_backend(model, BackendConfig(name="auto", cache_dir=str(tmp_path), auto_probe_runs=0))
    assert backend.name == "onnxruntime"


def test_auto_on_cpu_falls_back_to_eager_without_onnxruntime(model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    assert "onnxruntime" not in available_backends("cpu")
    backend = create_backend(model, BackendConfig(name="auto", cache_dir=str(tmp_path)))
    assert backend.name == "eager"
    with pytest.raises(BackendUnavailableError, match="needs the onnxruntime package.*use backend 'eager'"):
        create_backend(model, BackendConfig(name="onnxruntime", cache_dir=str(tmp_path)))


def test_available_backends_on_this_machine():
    names = available_backends("cpu")
    assert names[:2] == ["eager", "compile"] and "onnxruntime" in names
    assert "tensorrt" not in names  # never on a CPU device


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_eager_backend_returns_float32_maps(model, precision):
    backend = create_backend(model, BackendConfig(name="eager", precision=precision))
    inputs = graph_inputs(model.cfg, seed=2)
    with torch.inference_mode():
        ref = model(*inputs)
    out = backend(*inputs)
    assert (backend.name, backend.precision, backend.device) == ("eager", precision, torch.device("cpu"))
    assert {t.dtype for t in out[:3]} == {torch.float32} and out.kept_index.dtype == torch.int64
    if precision == "fp32":
        assert torch.equal(out.score_map, ref.score_map)
    else:
        torch.testing.assert_close(out.score_map, ref.score_map, rtol=0, atol=3e-2)
    assert next(model.parameters()).dtype == torch.float32  # the model itself is not cast


def test_compile_backend_equals_eager_on_cpu(model):
    backend = create_backend(model, BackendConfig(name="compile"))
    inputs = graph_inputs(model.cfg, seed=4)
    with torch.inference_mode():
        ref = model(*inputs)
    out = backend(*inputs)
    torch.testing.assert_close(out.score_map, ref.score_map, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.size_map, ref.size_map, rtol=1e-4, atol=1e-5)
    assert torch.equal(out.kept_index, ref.kept_index)
    assert backend.info["compile_s"] > 0 and backend.info["freezing"] is True  # weights folded on CPU


def test_tensorrt_on_cpu_says_to_use_a_cpu_backend(model):
    with pytest.raises(BackendUnavailableError, match="runs on CUDA devices.*'onnxruntime' or 'eager'"):
        create_backend(model, BackendConfig(name="tensorrt", device="cpu"))


@pytest.mark.skipif(not NO_CUDA, reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("name", ["tensorrt", "compile", "eager", "auto"])
def test_cuda_device_without_a_gpu_is_refused_clearly(model, name):
    with pytest.raises(BackendUnavailableError, match="'cuda'.*no CUDA GPU.*use device 'cpu'"):
        create_backend(model, BackendConfig(name=name, device="cuda"))


def test_missing_torch_tensorrt_names_the_package_and_alternatives(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_tensorrt", None)
    with pytest.raises(BackendUnavailableError) as err:
        import_torch_tensorrt()
    text = str(err.value)
    assert "torch_tensorrt" in text and torch.__version__ in text and "'compile'" in text and "'onnxruntime'" in text


def test_onnxruntime_gpu_provider_missing_is_named():
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(BackendUnavailableError, match="CUDAExecutionProvider.*onnxruntime-gpu"):
        resolve_providers(BackendConfig(name="onnxruntime", device="cuda"), available)
    with pytest.raises(ValueError, match="device is 'cpu'"):
        resolve_providers(BackendConfig(name="onnxruntime", ort_providers=("cuda",)), available)


def test_onnxruntime_has_no_bf16(model, tmp_path):
    with pytest.raises(BackendUnavailableError, match="'bf16'.*'eager' or 'compile'"):
        create_backend(model, BackendConfig(name="onnxruntime", precision="bf16", cache_dir=str(tmp_path)))


@pytest.mark.parametrize("field, value, needle", [
    ("name", "tensorflow", "'tensorflow'"), ("precision", "int8", "'int8'"), ("device", "gpu", "'gpu'"),
    ("device", "cuda:x", "'cuda:x'"), ("ort_providers", ("rocm",), "'rocm'"), ("onnx_opset", 11, "11"),
    ("on_mismatch", "ignore", "'ignore'"), ("preprocess", "gpu", "'gpu'"), ("ort_intra_threads", -1, "-1"),
])
def test_backend_config_rejects_bad_values_by_name(field, value, needle):
    with pytest.raises(ValueError, match=re.escape(needle)):
        BackendConfig(**{field: value})


def test_tensorrt_precision_plan_follows_the_version_rules():
    assert parse_version("2.13.0+cu130") == (2, 13)
    # <= 2.9: the builder flag works on an fp32 graph.
    assert precision_plan((2, 8), "fp16") == ("fp32", {"enabled_precisions": {torch.float16}})
    # 2.10+: the flag raises (2.10-2.12) or is ignored (2.13+): cast the graph, explicit typing.
    for version in ((2, 10), (2, 12), (2, 13)):
        assert precision_plan(version, "fp16") == ("fp16", {"use_explicit_typing": True})
        assert precision_plan(version, "bf16")[0] == "bf16"
    assert precision_plan((2, 13), "fp32")[1]["disable_tf32"] is True


@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
def test_tensorrt_fp16_engine_is_verified_half_precision(model, tmp_path):
    pytest.importorskip("torch_tensorrt", reason="needs torch_tensorrt")
    backend = create_backend(model, BackendConfig(name="tensorrt", precision="fp16", device="cuda",
                                                  cache_dir=str(tmp_path)))
    assert backend.info["verified_precision"] == "fp16"
    assert backend.info["max_rel_err_vs_fp32"] > 1e-4
    inputs = graph_inputs(model.cfg, seed=3)
    out = backend(*inputs)
    with torch.inference_mode():
        ref = model.to("cuda")(*(t.cuda() for t in inputs))
    torch.testing.assert_close(out.score_map, ref.score_map, rtol=0, atol=2e-2)


@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
def test_eager_fp16_on_cuda_matches_fp32(model):
    backend = create_backend(model, BackendConfig(name="eager", precision="fp16", device="cuda"))
    inputs = graph_inputs(model.cfg, seed=3)
    out = backend(*inputs)
    with torch.inference_mode():
        ref = model.to("cuda")(*(t.to("cuda") for t in inputs))
    torch.testing.assert_close(out.score_map, ref.score_map, rtol=0, atol=2e-2)
