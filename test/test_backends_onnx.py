"""ONNX export + ONNX Runtime equal eager PyTorch (tiny and full-size), and the export CLI."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from allinone_ros.backends import InferenceGraph
from allinone_ros.backends.onnx_export import export_onnx
from allinone_ros.checkpoint import save_checkpoint
from allinone_ros.cli.export_onnx import main as export_main
from allinone_ros.model import ModelConfig, build_model, tiny_config
from backend_helpers import decoded, graph_inputs, peaky_model
from builders import manifest_state_dict, tiny_checkpoint

FEED_NAMES = ("template", "search", "lang")


def _ort_run(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {n: t.numpy() for n, t in zip(FEED_NAMES, inputs)})


def _assert_same(got, ref):
    for name, g, r in zip(("score", "size", "offset"), got[:3], ref[:3]):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-3, atol=1e-4, err_msg=name)
    np.testing.assert_array_equal(got[3], ref[3].numpy())  # kept tokens: same set, same order
    cell_ort, box_ort = decoded(*(torch.from_numpy(g) for g in got[:3]))
    cell_ref, box_ref = decoded(*ref[:3])
    assert cell_ort == cell_ref
    torch.testing.assert_close(box_ort, box_ref, rtol=0, atol=1e-5)


def test_export_cli_writes_a_checked_static_onnx_that_matches_eager(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt", seed=4)
    out = tmp_path / "tiny.onnx"
    assert export_main([str(ckpt), "-o", str(out)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 17
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.input}
    assert dims == {"template": [1, 3, 128, 128], "search": [1, 3, 256, 256], "lang": [1, 64]}
    outs = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.output}
    cfg = tiny_config()
    assert outs == {"score_map": [1, 1, 16, 16], "size_map": [1, 2, 16, 16], "offset_map": [1, 2, 16, 16],
                    "kept_index": [1, cfg.kept_counts()[-1]]}
    assert not {n.op_type for n in model.graph.node} & {"NonZero", "Loop", "If"}

    from allinone_ros.checkpoint import load_model

    torch_model = load_model(ckpt)
    for seed in range(3):
        inputs = graph_inputs(cfg, seed=seed)
        with torch.inference_mode():
            ref = torch_model(*inputs)
        _assert_same(_ort_run(out, inputs), ref)


def test_opset_18_export_passes_the_checker(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "tiny18.onnx"
    assert export_main([str(ckpt), "-o", str(out), "--opset", "18", "--no-verify"]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 18


def test_fp16_export_has_half_weights_and_float_io(tmp_path):
    torch.manual_seed(0)
    model = peaky_model(tiny_config())
    ckpt = save_checkpoint(tmp_path / "m.pt", model)
    out = tmp_path / "m16.onnx"
    assert export_main([str(ckpt), "-o", str(out), "--fp16", "--no-verify"]) == 0
    onnx_model = onnx.load(str(out))
    onnx.checker.check_model(onnx_model)
    big = [i for i in onnx_model.graph.initializer if int(np.prod(i.dims)) >= 1024]
    assert big and all(i.data_type == onnx.TensorProto.FLOAT16 for i in big)
    io_types = [v.type.tensor_type.elem_type for v in list(onnx_model.graph.input) + list(onnx_model.graph.output)[:3]]
    assert set(io_types) == {onnx.TensorProto.FLOAT}
    inputs = graph_inputs(model.cfg, seed=2)
    got = _ort_run(out, inputs)
    with torch.inference_mode():
        ref = model(*inputs)
    # Half precision: close, not equal.
    np.testing.assert_allclose(got[0], ref.score_map.numpy(), rtol=0, atol=2e-2)


def test_export_cli_names_a_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    assert export_main([str(missing), "-o", str(tmp_path / "x.onnx")]) == 2
    assert str(missing) in capsys.readouterr().err


def test_export_refuses_an_unknown_opset(tmp_path):
    graph = InferenceGraph(build_model(tiny_config()))
    with pytest.raises(ValueError, match="16"):
        export_onnx(graph, tmp_path / "x.onnx", opset=16)


@pytest.fixture(scope="module")
def full_size(tmp_path_factory):
    """One full-size export (the released shapes, ~370 MB), shared by the full-size tests."""
    model = peaky_model(ModelConfig(), manifest_state_dict(seed=0))
    path = tmp_path_factory.mktemp("onnx") / "full.onnx"
    export_onnx(InferenceGraph(model), path)
    return model, path


def test_full_size_onnxruntime_equals_eager(full_size):
    model, path = full_size
    onnx.checker.check_model(str(path))
    inputs = graph_inputs(model.cfg, seed=5)
    with torch.inference_mode():
        ref = model(*inputs)
    assert ref.kept_index.shape == (1, 89)
    _assert_same(_ort_run(path, inputs), ref)
