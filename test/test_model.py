"""Network structure: shapes, candidate elimination, attention paths, parameter names."""
import math

import pytest
import torch
import torch.nn.functional as F

from allinone_ros.model import ModelConfig, build_model, tiny_config
from allinone_ros.model.blocks import eliminate_candidates
from builders import manifest_entries


def _inputs(cfg, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, 3, cfg.template_size, cfg.template_size, generator=g)
    x = torch.randn(batch, 3, cfg.search_size, cfg.search_size, generator=g)
    lang = F.normalize(torch.randn(batch, cfg.embed_dim, generator=g), dim=-1)
    return z, x, lang


@pytest.mark.parametrize(
    "cfg",
    [
        tiny_config(),
        tiny_config(embed_dim=48, num_heads=3, depth=3, ce_layers=(1,)),
        tiny_config(template_size=96, search_size=192, ce_layers=()),
        tiny_config(patch_size=8, template_size=64, search_size=128, head_channels=16),
    ],
    ids=["tiny", "narrow", "no-ce-96-192", "patch8"],
)
def test_forward_shapes(cfg):
    model = build_model(cfg)
    z, x, lang = _inputs(cfg, batch=2)
    with torch.inference_mode():
        out = model(z, x, lang)
    g = cfg.search_grid
    assert out.score_map.shape == (2, 1, g, g)
    assert out.size_map.shape == (2, 2, g, g)
    assert out.offset_map.shape == (2, 2, g, g)
    expected_kept = cfg.kept_counts()[-1] if cfg.ce_layers else g * g
    assert out.kept_index.shape == (2, expected_kept)
    assert float(out.score_map.min()) >= 1e-4 and float(out.score_map.max()) <= 1 - 1e-4


def test_default_config_has_exactly_the_released_parameters():
    model = build_model(ModelConfig())
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    released = {k: shape for k, shape, _ in manifest_entries()}
    assert ours == released
    n_float = sum(v.numel() for v in model.state_dict().values() if v.is_floating_point())
    assert round(n_float / 1e6, 1) == 179.7


def test_candidate_elimination_keeps_180_126_89_and_restores_positions():
    # Full 16x16 search grid and CE after blocks 3, 6, 9 as released; narrow width keeps it fast.
    cfg = ModelConfig(embed_dim=64, num_heads=4, head_channels=32, align_dim=32, text_dim=64)
    assert cfg.kept_counts() == [180, 126, 89]  # ceil(0.7*256)=180, ceil(0.7*180)=126, ceil(0.7*126)=89
    model = build_model(cfg)
    z, x, lang = _inputs(cfg)
    counts = []
    hooks = [
        model.backbone.blocks[i].register_forward_hook(lambda m, a, o: counts.append(o[1].shape[1]))
        for i in cfg.ce_layers
    ]
    with torch.inference_mode():
        tokens, kept = model.backbone(z, x, lang)
    for h in hooks:
        h.remove()
    assert counts == [180, 126, 89]
    kept = kept[0]
    assert len(set(kept.tolist())) == 89 and int(kept.min()) >= 0 and int(kept.max()) < 256
    # Eliminated positions are zero; kept positions carry features.
    eliminated = sorted(set(range(256)) - set(kept.tolist()))
    assert torch.all(tokens[0, eliminated] == 0)
    assert torch.all(tokens[0, kept].abs().sum(-1) > 0)


def test_elimination_ranks_by_centre_template_row():
    # 2 template tokens + 5 search tokens; attention of the ranking row over keys, two heads.
    b, t, s, c = 1, 2, 5, 3
    tokens = torch.arange(b * (t + s) * c, dtype=torch.float32).view(b, t + s, c)
    search_index = torch.tensor([[10, 11, 12, 13, 14]])
    # head means over search columns: [0.05, 0.30, 0.10, 0.40, 0.15] -> keep ceil(0.6*5)=3: cols 3,1,4
    row = torch.tensor([[[0.0, 0.0, 0.1, 0.2, 0.0, 0.5, 0.2], [0.0, 0.0, 0.0, 0.4, 0.2, 0.3, 0.1]]])
    out, kept = eliminate_candidates(tokens, search_index, row, num_template=t, keep_ratio=0.6)
    assert kept.tolist() == [[13, 11, 14]]
    assert torch.equal(out[0, :t], tokens[0, :t])
    assert torch.equal(out[0, t:], tokens[0, [t + 3, t + 1, t + 4]])


def test_sdpa_equals_plain_attention():
    cfg = tiny_config(depth=6, ce_layers=(1, 3, 4))
    sdpa = build_model(cfg, attn_impl="sdpa")
    plain = build_model(cfg, attn_impl="plain")
    plain.load_state_dict(sdpa.state_dict())
    z, x, lang = _inputs(cfg, batch=2, seed=3)
    with torch.inference_mode():
        a, b = sdpa(z, x, lang), plain(z, x, lang)
    assert torch.equal(a.kept_index, b.kept_index)
    for ta, tb in zip(a[:3], b[:3]):
        torch.testing.assert_close(ta, tb, rtol=1e-4, atol=1e-5)


def test_alignment_heads_are_not_run_at_inference():
    model = build_model(tiny_config())
    called = []
    for name in ("vision_x_proj", "vision_z_proj", "language_xz_proj"):
        getattr(model.backbone, name).register_forward_hook(lambda *a, n=name: called.append(n))
    z, x, lang = _inputs(model.cfg)
    with torch.inference_mode():
        model(z, x, lang)
    assert called == []


def test_keep_ratio_one_keeps_every_token():
    model = build_model(tiny_config())
    z, x, lang = _inputs(model.cfg)
    with torch.inference_mode():
        out = model(z, x, lang, keep_ratio=1.0)
    assert out.kept_index.shape[1] == 256 and torch.equal(out.kept_index[0], torch.arange(256))


def test_template_centre_index():
    assert ModelConfig().template_center_index == 27  # row 3, col 3 of the 8x8 grid
    assert ModelConfig(template_size=192, search_size=384).template_center_index == 5 * 12 + 5
    assert math.isclose(ModelConfig().mlp_ratio * 768, 3072)


def test_invalid_configs_name_the_value():
    with pytest.raises(ValueError, match="language_encoder"):
        ModelConfig(language_encoder="gpt")
    with pytest.raises(ValueError, match="ce_layers"):
        ModelConfig(depth=4, ce_layers=(3, 6))
    with pytest.raises(ValueError, match="not a multiple of patch_size"):
        ModelConfig(search_size=250)
