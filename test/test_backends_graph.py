"""Inference graph: same outputs as the model, inference weights only, exportable without data-dependent ops."""
import pytest
import torch

from allinone_ros.backends import InferenceGraph
from allinone_ros.model import ModelConfig, build_model, tiny_config
from backend_helpers import graph_inputs

# Ops whose output shape or value depends on tensor data (break static engines and CUDA graphs).
DATA_DEPENDENT = {"nonzero", "item", "_local_scalar_dense", "masked_select", "masked_scatter", "unique",
                  "_unique2", "unique_consecutive", "nonzero_static", "argwhere"}


def _op_names(program):
    names = []
    for node in program.graph.nodes:
        if node.op == "call_function":
            target = node.target
            name = getattr(target, "__name__", str(target))  # e.g. "nonzero.default"
            names.append(name.split(".")[0])
            # Boolean-mask indexing appears as index.Tensor with a bool index tensor.
            if name.startswith("index.") or name.startswith("index_put"):
                for arg in node.args[1] if len(node.args) > 1 and isinstance(node.args[1], (list, tuple)) else []:
                    val = getattr(arg, "meta", {}).get("val") if arg is not None else None
                    if val is not None and val.dtype == torch.bool:
                        names.append("bool_mask_index")
    return names


@pytest.mark.parametrize("cfg", [
    tiny_config(),
    # The released 16x16 search grid and elimination layers (256 -> 180 -> 126 -> 89), narrow for speed.
    ModelConfig(embed_dim=64, num_heads=4, head_channels=32, align_dim=32, text_dim=64),
], ids=["tiny", "released-grid"])
def test_torch_export_has_no_data_dependent_op(cfg):
    graph = InferenceGraph(build_model(cfg))
    program = torch.export.export(graph, graph_inputs(cfg))
    ops = _op_names(program)
    assert not set(ops) & (DATA_DEPENDENT | {"bool_mask_index"}), sorted(set(ops) & DATA_DEPENDENT)
    # Candidate elimination is really in the graph, as static topk + gather and a final scatter.
    assert ops.count("topk") == len(cfg.ce_layers)
    assert "gather" in ops and "scatter" in ops
    # No unbacked symbolic sizes (what a data-dependent shape would introduce).
    assert not [s for s in program.range_constraints if str(s).startswith("u")]
    # The exported program's outputs are static: kept count is the last elimination count.
    kept = program.graph_signature.user_outputs[-1]
    out_node = next(n for n in program.graph.nodes if n.op == "output")
    kept_val = [a for a in out_node.args[0] if a.name == kept][0].meta["val"]
    assert tuple(kept_val.shape) == (1, cfg.kept_counts()[-1])


def test_graph_outputs_equal_the_model_forward():
    torch.manual_seed(0)
    model = build_model(tiny_config())
    graph = InferenceGraph(model)
    inputs = graph_inputs(model.cfg, seed=3)
    with torch.inference_mode():
        ref = model(*inputs)
        got = graph(*inputs)
    for a, b in zip(got, ref):
        assert torch.equal(a, b)


def test_graph_holds_only_inference_weights():
    model = build_model(tiny_config())
    graph = InferenceGraph(model)
    keys = set(graph.state_dict())
    model_keys = set(model.state_dict())
    training_only = ("language_xz_proj", "vision_x_proj", "vision_z_proj", "language_proj")
    dropped_prefixes = tuple(f"backbone.{m}." for m in training_only) + ("language_embeddings.",)
    unused = {"backbone.cls_token", "backbone.pos_embed"}
    expected = {k for k in model_keys if not k.startswith(dropped_prefixes)} - unused
    assert keys == expected
    assert not any("vision_x_proj" in k or "language_embeddings" in k or k.endswith("pos_embed") for k in keys)
    # The model itself still has everything (the graph shares, it does not strip the model).
    assert "backbone.vision_x_proj.weight" in model_keys
    # Weights are shared, not copied.
    assert graph.backbone.blocks[0].attn.qkv.weight.data_ptr() == model.backbone.blocks[0].attn.qkv.weight.data_ptr()


def test_full_size_graph_drops_the_alignment_heads_and_text_embedding():
    model = build_model(ModelConfig())
    graph = InferenceGraph(model)
    total = sum(v.numel() for v in model.state_dict().values() if v.is_floating_point())
    kept = sum(v.numel() for v in graph.state_dict().values())
    # 179.7 M in the release; alignment projections 63 M and the BERT embedding table ~23.4 M are dropped.
    assert round(total / 1e6, 1) == 179.7
    assert 90e6 < kept < 95e6


def test_other_attention_path_and_precision_copies_leave_the_model_alone():
    torch.manual_seed(0)
    model = build_model(tiny_config())
    graph = InferenceGraph(model)
    plain = graph.with_attn_impl("plain")
    half = graph.to_precision("bf16")
    assert {m.attn.impl for m in model.backbone.blocks} == {"sdpa"}
    assert {m.attn.impl for m in plain.backbone.blocks} == {"plain"}
    assert next(model.parameters()).dtype == torch.float32
    inputs = graph_inputs(model.cfg, seed=1)
    with torch.inference_mode():
        ref, got_plain, got_half = graph(*inputs), plain(*inputs), half(*inputs)
    torch.testing.assert_close(got_plain[0], ref[0], rtol=1e-4, atol=1e-5)
    assert torch.equal(got_plain[3], ref[3])
    assert got_half[0].dtype == torch.float32  # cast back inside the graph
    torch.testing.assert_close(got_half[0], ref[0], rtol=0, atol=3e-2)
    with pytest.raises(ValueError, match="'fp8'"):
        graph.to_precision("fp8")


def test_the_op_walker_detects_a_boolean_mask():
    class Masked(torch.nn.Module):
        def forward(self, x):
            return x[x > 0].sum() + torch.nonzero(x).shape[0]

    program = torch.export.export(Masked(), (torch.randn(8),))
    ops = set(_op_names(program))
    assert ops & (DATA_DEPENDENT | {"bool_mask_index"})


def test_sdpa_ranking_row_is_float32_under_bf16():
    """The elimination row is computed in float32 from the half-precision q/k, so near-ties keep their order."""
    from allinone_ros.model.attention import Attention

    torch.manual_seed(0)
    attn = Attention(dim=64, num_heads=4, impl="sdpa").to(torch.bfloat16)
    x = torch.randn(1, 40, 64, dtype=torch.bfloat16)  # (B, N, C)
    with torch.inference_mode():
        out, row = attn(x, rank_row=3)
        qkv = attn.qkv(x).reshape(1, 40, 3, 4, 16).permute(2, 0, 3, 1, 4)
        q, k = qkv[0].double(), qkv[1].double()  # (B, heads, N, head_dim), bf16 values held in float64
    assert out.dtype == torch.bfloat16
    assert row is not None and row.dtype == torch.float32 and row.shape == (1, 4, 40)
    expected = ((q[:, :, 3:4] * 16**-0.5) @ k.transpose(-2, -1)).softmax(dim=-1)[:, :, 0]  # (B, heads, N)
    torch.testing.assert_close(row.double(), expected, rtol=1e-5, atol=1e-7)
    # A bf16 row would be off by far more than that (bf16 has an 8-bit mantissa).
    assert (row.to(torch.bfloat16).double() - expected).abs().max() > 1e-5
