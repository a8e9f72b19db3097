"""The built-in grounder's verifier: crops, strict storage beside the detector, the trainer, and how the
grounder combines the two stages.

The training run uses the real trainer on sequences the test generates with the synthetic generator
and the real packaged MiniLM token features; its file is loaded back into :class:`BuiltinGrounder`.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from allinone_ros.config_io import ConfigError
from allinone_ros.data.synthetic import COLOURS_RGB, SHAPES, SyntheticConfig, generate_dataset
from allinone_ros.grounding import GrounderConfig, GroundingModelError
from allinone_ros.grounding.builtin import (
    BuiltinGrounder, load_grounder, load_grounder_parts, save_grounder,
)
from allinone_ros.grounding.verifier import VerifierConfig, VerifierNet, crop_box
from allinone_ros.ops.normalize import image_to_tensor
from allinone_ros.training.config import DataSource
from allinone_ros.training.verifier import VerifierTrainer, load_verifier_experiment
from allinone_ros.training.verifier_data import CropDataset, VerifierDataConfig, sentence_pool
from test_builtin_grounder import tiny_net

COLOURS = ("red", "blue", "green")
TINY = dict(colours=COLOURS, shapes=("car", "circle"), crop_size=16, channels=(4, 8), hidden=8,
            num_text_queries=1, text_hidden=8, text_dim=384, text_max_len=40)


def tiny_verifier(seed: int = 0, **overrides: object) -> VerifierNet:
    torch.manual_seed(seed)
    return VerifierNet(VerifierConfig(**{**TINY, **overrides})).eval()


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="crop_size"):
        VerifierConfig(**{**TINY, "crop_size": 18})  # not divisible by 2 ** 2
    with pytest.raises(ValueError, match="colours"):
        VerifierConfig(**{**TINY, "colours": ("red", "red")})
    with pytest.raises(ValueError, match="context"):
        VerifierConfig(**{**TINY, "context": 0.5})
    with pytest.raises(ValueError, match="proposal_floor"):
        VerifierConfig(**{**TINY, "proposal_floor": 1.0})


def test_crop_centres_the_box_and_fills_outside_with_the_mean_colour() -> None:
    img = np.zeros((60, 80, 3), np.uint8)
    img[20:30, 40:50] = (200, 10, 10)  # a 10 x 10 red square
    cfg = VerifierConfig(**{**TINY, "crop_size": 32, "context": 2.0, "channels": (4, 8)})
    crop = crop_box(img, np.array([40.0, 20.0, 10.0, 10.0]), cfg)
    assert crop.shape == (32, 32, 3) and crop.dtype == np.uint8
    # the square fills the middle half of the crop (context 2), the rest is black background
    assert (crop[10:22, 10:22] == (200, 10, 10)).all()
    assert (crop[:6] == 0).all() and (crop[:, 26:] == 0).all()
    # a box in the image corner: the part outside the image takes the image's mean colour
    corner = crop_box(img, np.array([-5.0, -5.0, 10.0, 10.0]), cfg)
    mean = np.round(img.reshape(-1, 3).mean(0)).astype(int)
    np.testing.assert_allclose(corner[0, 0].astype(int), mean, atol=1)


def test_match_is_object_times_colour_agreement_times_shape_agreement() -> None:
    net = tiny_verifier()
    crops = torch.randn(3, 3, 16, 16)
    tokens, mask = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.long)
    colour, shape, obj = net.forward_image(crops)
    t_colour, t_shape = net.forward_text(tokens, mask)
    expected = (torch.sigmoid(obj) * (colour.softmax(-1) * t_colour.softmax(-1)).sum(-1)
                * (shape.softmax(-1) * t_shape.softmax(-1)).sum(-1))
    torch.testing.assert_close(net.match(crops, tokens, mask), expected)
    assert net.match(crops, tokens, mask).shape == (3,)


def test_grounder_file_holds_both_stages_and_loads_them_strictly(tmp_path: Path) -> None:
    det, ver = tiny_net(), tiny_verifier()
    path = save_grounder(tmp_path / "g.safetensors", det, {"note": "x"}, verifier=ver)
    net, back = load_grounder_parts(path)
    assert back is not None and back.cfg == ver.cfg
    for k, v in ver.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v)
    assert set(load_grounder(path).state_dict()) == set(det.state_dict())  # the detector alone
    # a file without a verifier: (detector, None)
    assert load_grounder_parts(save_grounder(tmp_path / "plain.safetensors", det))[1] is None

    state = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        md = f.metadata()
    cut = {k: v for k, v in state.items() if k != "verifier.text.queries"}
    save_file(cut, str(tmp_path / "cut.safetensors"), metadata=md)
    with pytest.raises(GroundingModelError, match=r"verifier.*missing \['text.queries'\]"):
        load_grounder_parts(tmp_path / "cut.safetensors")
    no_config = {k: v for k, v in md.items() if k != "verifier_config"}
    save_file(state, str(tmp_path / "nocfg.safetensors"), metadata=no_config)
    with pytest.raises(GroundingModelError, match="verifier_config"):
        load_grounder_parts(tmp_path / "nocfg.safetensors")
    other_len = save_grounder(tmp_path / "len.safetensors", det, verifier=tiny_verifier(text_max_len=20))
    with pytest.raises(GroundingModelError, match="length 20"):
        load_grounder_parts(other_len)


def test_grounder_scores_are_the_geometric_mean_of_detector_and_verifier(tmp_path: Path) -> None:
    det, ver = tiny_net(1), tiny_verifier(2, proposals=4, proposal_floor=0.0)
    torch.nn.init.constant_(det.score.bias, 0.0)  # detector scores about 0.5 everywhere: several peaks
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    plain = BuiltinGrounder(det, GrounderConfig(score_threshold=0.0, max_candidates=4, min_box_size=0.0))
    both = BuiltinGrounder(det, GrounderConfig(score_threshold=0.0, max_candidates=4, min_box_size=0.0),
                           text=plain.text, verifier=ver)
    sentence = "the red car"
    proposals = plain.ground(frame, sentence)
    assert len(proposals) == 4
    match = both.verify(frame, [c.box_xywh for c in proposals], sentence)
    expected = sorted((float(np.sqrt(c.score * m)) for c, m in zip(proposals, match)), reverse=True)
    got = [c.score for c in both.ground(frame, sentence)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    with pytest.raises(GroundingModelError, match="no verifier"):
        plain.verify(frame, [proposals[0].box_xywh], sentence)


def _write_scenes(root: Path) -> Path:
    cfg = SyntheticConfig(num_sequences=4, num_frames=4, seed=4242, frame_width=160, frame_height=96, out_of_view_prob=0.0,
                          occlusion_prob=0.0,
                          lookalike_kinds=("same_shape", "same_colour"))
    generate_dataset(root, cfg)
    return root


def test_crop_samples_label_objects_and_non_objects(tmp_path: Path) -> None:
    root = _write_scenes(tmp_path / "syn")
    colours = tuple(COLOURS_RGB)
    model = VerifierConfig(colours=colours, shapes=SHAPES, crop_size=16, channels=(4, 8))
    data = VerifierDataConfig(sources=(DataSource("synthetic", str(root)),), min_size=2.0)
    ds = CropDataset.from_config(data, model, seed=3)
    again = ds.sample(0, 5)
    s = ds.sample(0, 5)
    torch.testing.assert_close(s["crops"], again["crops"])  # a pure function of (seed, epoch, index)
    labels = torch.cat([ds.sample(0, i)["labels"] for i in range(12)])
    objects, others = labels[labels[:, 2] == 1], labels[labels[:, 2] == 0]
    assert len(objects) and len(others)
    assert (objects[:, 0] >= 0).all() and (objects[:, 1] >= 0).all()
    assert (others[:, :2] == -1).all()

    sentences, looks = sentence_pool(model, per_look=3, seed=0)
    assert len(sentences) == len(colours) * len(SHAPES) * 3
    for text, (c, s_) in zip(sentences, looks):  # every sentence names its own look first
        assert text.startswith(f"the {colours[c]} {SHAPES[s_]}") or f" {colours[c]} {SHAPES[s_]}" in text


def test_touching_objects_are_cut_out_unless_the_objects_drawn_over_them_hide_them(tmp_path: Path) -> None:
    from allinone_ros.data.synthetic import ObjectTrack
    from allinone_ros.training.verifier_data import _covered

    # the generator draws the distractors in order and the target last (on top)
    target = ObjectTrack("target", "car", "red", np.array([[10.0, 10.0, 20.0, 10.0]]))
    under = ObjectTrack("same_shape", "car", "blue", np.array([[20.0, 10.0, 20.0, 10.0]]))  # half under the target
    beside = ObjectTrack("mixed", "star", "green", np.array([[40.0, 10.0, 10.0, 10.0]]))  # touches only
    objects = [target, under, beside]
    assert _covered(objects, 0, 0) == 0.0  # nothing is drawn over the target
    assert _covered(objects, 1, 0) == pytest.approx(0.5)
    assert _covered(objects, 2, 0) == 0.0

    # look-alikes next to the target and three distractors moving about: objects touch on some frames
    root = tmp_path / "syn"
    generate_dataset(root, SyntheticConfig(num_sequences=4, num_frames=12, seed=4242, frame_width=160,
                                           frame_height=96, out_of_view_prob=0.0, occlusion_prob=0.0,
                                           lookalike_kinds=("same_shape", "same_colour"),
                                           num_distractors_range=(3, 3)))
    model = VerifierConfig(colours=tuple(COLOURS_RGB), shapes=SHAPES, crop_size=16, channels=(4, 8))
    source = (DataSource("synthetic", str(root)),)

    def object_crops(**kw: object) -> int:
        ds = CropDataset.from_config(VerifierDataConfig(sources=source, min_size=2.0, **kw), model, seed=3)
        return int(sum((ds.sample(0, i)["labels"][:, 2] == 1).sum() for i in range(48)))

    left_out, once, twice = object_crops(touching_crops=0), object_crops(touching_crops=1), object_crops(touching_crops=2)
    assert left_out < once < twice


def test_tiny_training_writes_a_grounder_with_both_stages(tmp_path: Path) -> None:
    root = _write_scenes(tmp_path / "syn")
    detector = save_grounder(tmp_path / "det.safetensors", tiny_net(3), {"origin": "test"})
    config = {
        "model": {"colours": ["red", "blue", "green", "yellow", "white", "black", "orange", "purple"],
                  "shapes": list(SHAPES), "crop_size": 16, "channels": [4, 8], "hidden": 8,
                  "num_text_queries": 1, "text_hidden": 8},
        "data": {"sources": [{"kind": "synthetic", "root": str(root)}], "frames_per_epoch": 8,
                 "sentences_per_look": 1, "num_workers": 0, "min_size": 2.0},
        "validation": {"sources": [{"kind": "synthetic", "root": str(root)}], "frames": 4},
        "optim": {"frames_per_batch": 4, "text_batch": 8},
        "schedule": {"epochs": 2, "lr_drop_epochs": [1]},
        "run": {"seed": 0, "device": "cpu", "threads": 1, "progress": False, "tensorboard": False},
    }
    cfg_path = tmp_path / "v.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    exp = load_verifier_experiment(cfg_path)
    summary = VerifierTrainer(exp, tmp_path / "run", detector).train()
    assert summary["epoch"] == 2 and np.isfinite(summary["loss"]) and "val_match_acc" in summary
    out = tmp_path / "run" / "grounder.safetensors"
    with safe_open(str(out), framework="pt") as f:
        md = f.metadata()
    assert md["origin"] == "test" and "verifier" in md  # the detector's metadata is kept
    grounder = BuiltinGrounder.from_checkpoint(out, GrounderConfig(score_threshold=0.0))
    assert grounder.verifier is not None
    torch.testing.assert_close(grounder.net.state_dict()["text.queries"], tiny_net(3).state_dict()["text.queries"])
    frame = np.full((96, 160, 3), 90, np.uint8)
    for c in grounder.ground(frame, "the red car"):
        assert 0.0 <= c.score <= 1.0

    # strict YAML: an unknown word, an unknown section, a missing model section
    bad = dict(config, model=dict(config["model"], shapes=["car", "boat"]))
    cfg_path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match="boat"):
        load_verifier_experiment(cfg_path)
    cfg_path.write_text(yaml.safe_dump(dict(config, extra={})))
    with pytest.raises(ConfigError, match="extra"):
        load_verifier_experiment(cfg_path)
    cfg_path.write_text(yaml.safe_dump({k: v for k, v in config.items() if k != "model"}))
    with pytest.raises(ConfigError, match="model section is required"):
        load_verifier_experiment(cfg_path)


def test_crops_feed_the_network_as_normalised_tensors() -> None:
    cfg = VerifierConfig(**TINY)
    img = np.full((40, 40, 3), 128, np.uint8)
    crop = crop_box(img, np.array([10.0, 10.0, 8.0, 8.0]), cfg)
    tensor = image_to_tensor(crop)
    assert tensor.shape == (3, 16, 16)
    assert tiny_verifier().match(tensor[None], torch.randn(1, 4, 384), torch.ones(1, 4, dtype=torch.long)).shape == (1,)

