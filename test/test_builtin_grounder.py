"""The built-in grounder: geometry, peak decoding, strict checkpoints, and a tiny training run.

The training run uses the real trainer on sequences the test generates with the synthetic
generator, with the real packaged MiniLM token features; its checkpoint is loaded back into
:class:`BuiltinGrounder` and run on a frame.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from allinone_ros.config_io import ConfigError
from allinone_ros.data.synthetic import SyntheticConfig, generate_dataset
from allinone_ros.grounding import GroundingModelError, build_grounder
from allinone_ros.grounding.builtin import (
    BuiltinGrounder, find_peaks, letterbox, load_grounder, save_grounder,
)
from allinone_ros.grounding.net import GrounderOutput, TextGrounderConfig, TextGrounderNet
from allinone_ros.tracker import InputError
from allinone_ros.training.grounding import (
    GroundingTrainer, centre_heatmap, grounding_loss, load_grounding_experiment,
)

TINY = dict(input_width=64, input_height=48, num_stages=2, stem_channels=[8, 16], num_blocks=1,
            block_dilations=[1], head_channels=8, num_text_queries=2, text_hidden=16)


def tiny_net(seed: int = 0) -> TextGrounderNet:
    torch.manual_seed(seed)
    cfg = TextGrounderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in TINY.items()})
    return TextGrounderNet(cfg).eval()


def test_letterbox_keeps_aspect_and_pads_right_and_bottom() -> None:
    img = np.full((360, 640, 3), 200, np.uint8)
    patch, lb = letterbox(img, 320, 192)
    assert patch.shape == (192, 320, 3)
    assert lb.scale == 0.5 and lb.resized_wh == (320, 180)
    assert (patch[:180] == 200).all()
    assert (patch[180:] != 200).all()  # padding is the normalisation mean, not image content


def test_find_peaks_decodes_boxes_in_input_pixels_best_first() -> None:
    h, w, stride = 6, 8, 4
    score = torch.full((1, 1, h, w), 0.01)
    score[0, 0, 1, 2] = 0.9
    score[0, 0, 4, 6] = 0.6
    size = torch.zeros(1, 2, h, w)
    size[0, :, 1, 2] = torch.tensor([0.25, 0.5])  # 8 x 12 px of a 32 x 24 input
    size[0, :, 4, 6] = torch.tensor([0.125, 0.125])  # 4 x 3 px
    offset = torch.full((1, 2, h, w), 0.5)
    peaks = find_peaks(GrounderOutput(score, size, offset), stride, k=5)
    assert [round(s, 3) for s, _ in peaks[:2]] == [0.9, 0.6]
    # centre (2 + 0.5) * 4 = 10, (1 + 0.5) * 4 = 6 -> x 10 - 4, y 6 - 6
    np.testing.assert_allclose(peaks[0][1], [6.0, 0.0, 8.0, 12.0])
    # centre (6.5 * 4, 4.5 * 4) = (26, 18), size 4 x 3
    np.testing.assert_allclose(peaks[1][1], [24.0, 16.5, 4.0, 3.0])


def test_centre_heatmap_peak_at_centre_cell_and_empty_when_absent() -> None:
    boxes = torch.tensor([[8.0, 4.0, 8.0, 8.0], [0.0, 0.0, 0.0, 0.0]])
    heat = centre_heatmap(boxes, torch.tensor([True, False]), (6, 8), stride=4)
    assert heat.shape == (2, 1, 6, 8)
    # centre (12, 8) px -> cell (x 3, y 2)
    assert heat[0, 0, 2, 3] == 1.0 and int((heat[0] == 1).sum()) == 1
    assert float(heat[1].abs().sum()) == 0.0


def test_loss_without_any_target_is_the_focal_term_only() -> None:
    out = GrounderOutput(torch.full((2, 1, 6, 8), 0.01), torch.full((2, 2, 6, 8), 0.5), torch.full((2, 2, 6, 8), 0.5))
    loss, stats = grounding_loss(out, torch.zeros(2, 4), torch.tensor([False, False]), stride=4)
    # no positive cell: -(sum over 96 cells of p^2 log(1 - p)) / 1
    expected = -(96 * 0.01 ** 2 * np.log(1 - 0.01))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert stats["l1"] == 0.0 and np.isnan(stats["iou"])


def test_checkpoint_round_trip_and_strict_errors(tmp_path: Path) -> None:
    net = tiny_net()
    path = save_grounder(tmp_path / "g.safetensors", net)
    back = load_grounder(path)
    assert back.cfg == net.cfg
    image = torch.randn(1, 3, 48, 64)
    tokens, mask = torch.randn(1, 5, 384), torch.ones(1, 5, dtype=torch.long)
    with torch.no_grad():
        for a, b in zip(net(image, tokens, mask), back(image, tokens, mask)):
            torch.testing.assert_close(a, b)

    state = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        md = f.metadata()
    del state["score.weight"]
    save_file(state, str(tmp_path / "missing.safetensors"), metadata=md)
    with pytest.raises(GroundingModelError, match=r"missing \['score.weight'\]"):
        load_grounder(tmp_path / "missing.safetensors")

    (tmp_path / "cut.safetensors").write_bytes(path.read_bytes()[:200])
    with pytest.raises(GroundingModelError, match="cut.safetensors: not a readable safetensors file"):
        load_grounder(tmp_path / "cut.safetensors")

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "something"})
    with pytest.raises(GroundingModelError, match="is not a grounder checkpoint"):
        load_grounder(tmp_path / "other.safetensors")
    with pytest.raises(GroundingModelError, match="does not exist"):
        load_grounder(tmp_path / "nope.safetensors")


def test_build_grounder_choices(tmp_path: Path) -> None:
    assert build_grounder("none") is None
    path = save_grounder(tmp_path / "g.safetensors", tiny_net())
    assert isinstance(build_grounder(str(path)), BuiltinGrounder)
    (tmp_path / "weights.pt").write_bytes(b"x")
    with pytest.raises(GroundingModelError, match="neither a .safetensors grounder checkpoint nor a model directory"):
        build_grounder(str(tmp_path / "weights.pt"))


def test_grounder_rejects_bad_input(tmp_path: Path) -> None:
    grounder = BuiltinGrounder(tiny_net())
    with pytest.raises(InputError, match="non-empty sentence"):
        grounder.ground(np.zeros((40, 50, 3), np.uint8), "   ")
    with pytest.raises(InputError):
        grounder.ground(np.zeros((0, 0, 3), np.uint8), "the red car")


def test_experiment_yaml_is_strict(tmp_path: Path) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text("model:\n  input_width: 64\n  wrong_key: 1\n")
    with pytest.raises(ConfigError, match="wrong_key"):
        load_grounding_experiment(cfg)
    shipped = load_grounding_experiment(Path(__file__).resolve().parents[1] / "config" / "train_grounder_uav.yaml")
    assert shipped.model.stride == 8 and shipped.data.hflip_prob == 0.5


def test_tiny_training_lowers_the_loss_and_its_checkpoint_grounds(tmp_path: Path) -> None:
    data = tmp_path / "synthetic"
    generate_dataset(data, SyntheticConfig(num_sequences=3, num_frames=30, frame_width=128, frame_height=96,
                                           seed=5, out_of_view_prob=0.0, occlusion_prob=0.0))
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "model: {input_width: 64, input_height: 48, num_stages: 2, stem_channels: [8, 16], num_blocks: 1,\n"
        "        block_dilations: [1], head_channels: 8, num_text_queries: 2, text_hidden: 16}\n"
        f"data: {{sources: [{{kind: synthetic, root: '{data}'}}], samples_per_epoch: 96, num_workers: 0}}\n"
        "optim: {lr: 3.0e-3, batch_size: 8}\n"
        "schedule: {epochs: 4, lr_drop_epochs: [3]}\n"
        "run: {seed: 0, device: cpu, threads: 1, progress: false}\n"
    )
    exp = load_grounding_experiment(cfg)
    first = GroundingTrainer(load_grounding_experiment(cfg, ["schedule.epochs=1"]), tmp_path / "one").train()
    last = GroundingTrainer(exp, tmp_path / "run").train()
    assert last["loss"] < 0.8 * first["loss"], (first, last)
    grounder = build_grounder(str(tmp_path / "run" / "final.safetensors"))
    from allinone_ros.data.datasets import open_dataset
    from allinone_ros.data.frames import read_frame

    seq = open_dataset("lasot", data)[0]
    found = grounder.ground(read_frame(seq.frame_paths[0]), seq.sentence)
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)
    for c in found:  # boxes are in pixels of the 128 x 96 frame
        x, y, w, h = c.box_xywh
        assert 0 <= x and 0 <= y and x + w <= 128 + 1e-6 and y + h <= 96 + 1e-6 and w >= 2 and h >= 2

    # resume continues from the newest epoch checkpoint and ends at the configured epoch
    resumed = GroundingTrainer(load_grounding_experiment(cfg, ["schedule.epochs=5"]), tmp_path / "run", resume=True)
    assert resumed.epoch == 4
    assert resumed.opt.param_groups[0]["lr"] == pytest.approx(3.0e-4)  # dropped x0.1 after epoch 3
    assert resumed.train()["epoch"] == 5

    # a schedule changed in the YAML applies on resume (the saved scheduler knows only milestone 3)
    moved = GroundingTrainer(load_grounding_experiment(cfg, ["schedule.epochs=7", "schedule.lr_drop_epochs=[3, 6]"]),
                             tmp_path / "run", resume=True)
    assert moved.epoch == 5
    assert moved.opt.param_groups[0]["lr"] == pytest.approx(3.0e-4)
    moved.train()
    assert moved.opt.param_groups[0]["lr"] == pytest.approx(3.0e-5)  # the new milestone 6 took effect


# --------------------------------------------------------------------------- referents of synthetic scenes


def _scene_dataset(tmp_path: Path, **data_options: object):
    from allinone_ros.data.synthetic import scene_objects
    from allinone_ros.training.config import DataSource
    from allinone_ros.training.grounding import FrameDataset, GroundingDataConfig
    import json

    root = tmp_path / "scenes"
    if not root.exists():
        generate_dataset(root, SyntheticConfig(num_sequences=4, num_frames=30, seed=9, same_shape_distractor=True,
                                               num_distractors_range=(2, 3), occlusion_prob=0.0))
    options = {"hflip_prob": 0.0, "brightness_jitter": 0.0, **data_options}
    data = GroundingDataConfig(sources=(DataSource(kind="synthetic", root=str(root)),), **options)
    model = TextGrounderConfig(input_width=320, input_height=192)  # 640x360 frames -> scale 0.5
    ds = FrameDataset.from_config(data, model, seed=3)
    metas = {json.loads(p.read_text())["sentence"]: scene_objects(json.loads(p.read_text()))
             for p in sorted(root.rglob("meta.json"))}
    return ds, metas


def _sequence(ds, sample):
    (seq,) = [q for q in ds.sources[0][0] if q.name == sample["sequence"]]
    return seq


def _looks(sentence: str) -> set[tuple[str, str]]:
    from allinone_ros.data.synthetic import COLOURS_RGB, SHAPES

    words = sentence.split()
    return {(s, c) for c in COLOURS_RGB for s in SHAPES if f"{c} {s}" in " ".join(words)}


def test_other_object_referents_box_the_object_the_generated_sentence_names(tmp_path: Path) -> None:
    from allinone_ros.data.synthetic import clip_box_to_frame

    ds, _ = _scene_dataset(tmp_path, other_object_prob=1.0, first_frame_prob=1.0)
    named_distractor = 0
    for i in range(40):
        s = ds.sample(0, i)
        objects = ds.objects(_sequence(ds, s))
        assert s["frame"] == 0
        assert s["present"]
        box = s["box_xywh"].numpy() / 0.5  # back to frame pixels
        head = " ".join(s["sentence"].split()[1:3])  # "the <colour> <shape> ..."
        match = [o for o in objects if f"{o.colour} {o.shape}" == head]
        assert len(match) == 1, (s["sentence"], [(o.colour, o.shape) for o in objects])
        assert np.allclose(box, clip_box_to_frame(match[0].track_xywh[0], 640, 360), atol=1e-3)
        named_distractor += match[0].role != "target"
    assert named_distractor >= 30  # every scene has distractors wholly in frame 0


def test_absent_object_sentences_are_negatives_naming_a_look_not_in_the_scene(tmp_path: Path) -> None:
    ds, _ = _scene_dataset(tmp_path, absent_object_prob=1.0)
    for i in range(30):
        s = ds.sample(0, i)
        objects = ds.objects(_sequence(ds, s))
        assert not s["present"] and float(s["box_xywh"].abs().sum()) == 0.0
        (look,) = _looks(s["sentence"])
        assert look not in {(o.shape, o.colour) for o in objects}
        target = objects[0]
        assert look[0] == target.shape or look[1] == target.colour  # hard negatives: one word differs


def test_scene_sentences_describe_the_target_in_the_drawn_frame(tmp_path: Path) -> None:
    ds, metas = _scene_dataset(tmp_path, scene_sentences=True, first_frame_prob=0.0)
    first_frame_sentences = set(metas)
    redescribed = 0
    for i in range(30):
        s = ds.sample(0, i)
        if not s["present"]:
            continue
        assert s["frame"] > 0
        head = " ".join(s["sentence"].split()[1:3])
        targets = {f"{objs[0].colour} {objs[0].shape}" for objs in metas.values()}
        assert head in targets, s["sentence"]
        redescribed += s["sentence"] not in first_frame_sentences
    assert redescribed >= 5


def test_a_synthetic_source_without_meta_json_is_a_clear_error(tmp_path: Path) -> None:
    from allinone_ros.data.sequence import DatasetLayoutError

    ds, _ = _scene_dataset(tmp_path, other_object_prob=1.0)
    for meta in (tmp_path / "scenes").rglob("meta.json"):
        meta.unlink()
    ds._objects.clear()
    with pytest.raises(DatasetLayoutError, match="meta.json"):
        ds.sample(0, 0)


def test_paired_referents_show_one_frame_with_two_sentences_and_answers(tmp_path: Path) -> None:
    ds, _ = _scene_dataset(tmp_path, paired_referents=True, absent_object_prob=0.25, hflip_prob=0.5,
                           brightness_jitter=0.2)
    kinds = set()
    for i in range(0, 40, 2):
        even, odd = ds.sample(0, i), ds.sample(0, i + 1)
        assert (even["sequence"], even["frame"]) == (odd["sequence"], odd["frame"])
        assert torch.equal(even["image"], odd["image"])  # same frame, flip and brightness
        objects = ds.objects(_sequence(ds, even))
        target = f"{objects[0].colour} {objects[0].shape}"
        assert " ".join(even["sentence"].split()[1:3]) == target
        if not odd["present"]:
            kinds.add("negative")
        else:
            kinds.add("other" if " ".join(odd["sentence"].split()[1:3]) != target else "target")
            assert not torch.equal(even["box_xywh"], odd["box_xywh"]) or kinds == {"target"}
    assert {"negative", "other"} <= kinds


def test_match_score_head_forward_and_strict_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = TextGrounderConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in TINY.items()},
                             score_head="match", embed_dim=8)
    net = TextGrounderNet(cfg).eval()
    image, tokens, mask = torch.randn(2, 3, 48, 64), torch.randn(2, 5, 384), torch.ones(2, 5)
    with torch.no_grad():
        out = net(image, tokens, mask)
        other = net(image, torch.randn(2, 5, 384), mask)
    assert out.score_map.shape == (2, 1, 12, 16) and out.size_map.shape == (2, 2, 12, 16)
    # at the start every cell scores about sigmoid(-4.6 + 10 * cos): low, and it depends on the sentence
    assert float(out.score_map.max()) < 0.99
    assert not torch.allclose(out.score_map, other.score_map)
    path = save_grounder(tmp_path / "m.safetensors", net)
    again = load_grounder(path)
    assert again.cfg.score_head == "match"
    with torch.no_grad():
        assert torch.equal(again(image, tokens, mask).score_map, out.score_map)
    with pytest.raises(ValueError, match="score_head"):
        TextGrounderConfig(score_head="dot")


def test_attribute_loss_by_hand() -> None:
    import math
    from allinone_ros.data.synthetic import COLOURS_RGB, SHAPES
    from allinone_ros.training.grounding import attribute_loss

    n_col, n_shape = len(COLOURS_RGB), len(SHAPES)
    logits = torch.zeros(1, n_col + n_shape, 4, 4)
    # one object centred in cell (row 1, col 2) at stride 8: box 16..24 x 8..16; colour 3, shape 5; one padding row
    objects = torch.tensor([[[16.0, 8.0, 8.0, 8.0, 3.0, 5.0], [-1, -1, -1, -1, -1, -1]]])
    loss, acc = attribute_loss(logits, objects, stride=8)
    assert float(loss) == pytest.approx(math.log(n_col) + math.log(n_shape))  # uniform logits
    logits[0, 3, 1, 2] = 50.0
    logits[0, n_col + 5, 1, 2] = 50.0
    loss, acc = attribute_loss(logits, objects, stride=8)
    assert float(loss) == pytest.approx(0.0, abs=1e-6) and acc == 1.0
    logits[0, n_col + 5, 1, 2] = 0.0
    logits[0, n_col + 1, 1, 2] = 50.0  # shape wrong
    assert attribute_loss(logits, objects, stride=8)[1] == 0.0
    empty, acc = attribute_loss(logits, torch.full((1, 1, 6), -1.0), stride=8)
    assert float(empty) == 0.0 and math.isnan(acc)


def test_scene_objects_of_a_sample_carry_their_colour_shape_and_box(tmp_path: Path) -> None:
    from allinone_ros.data.synthetic import COLOURS_RGB, SHAPES, clip_box_to_frame

    ds, _ = _scene_dataset(tmp_path, first_frame_prob=1.0, hflip_prob=0.0)
    ds.with_objects = True
    for i in range(6):
        s = ds.sample(0, i)
        objects = ds.objects(_sequence(ds, s))
        rows = s["objects"].numpy()
        assert len(rows) >= 2  # target + at least one distractor wholly in frame 0
        expected = {(list(COLOURS_RGB).index(o.colour), SHAPES.index(o.shape)): o for o in objects}
        for row in rows:
            obj = expected[(int(row[4]), int(row[5]))]
            # groundtruth.txt (the target) has 2 decimals, meta.json 3
            assert np.allclose(row[:4] / 0.5, clip_box_to_frame(obj.track_xywh[0], 640, 360), atol=0.02)
        assert (list(COLOURS_RGB).index(objects[0].colour), SHAPES.index(objects[0].shape)) in \
            {(int(r[4]), int(r[5])) for r in rows}  # the target, visible in frame 0


def test_tiny_training_with_the_attribute_loss_runs_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "synthetic"
    generate_dataset(data, SyntheticConfig(num_sequences=2, num_frames=20, frame_width=128, frame_height=96,
                                           seed=6, out_of_view_prob=0.0, occlusion_prob=0.0))
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "model: {input_width: 64, input_height: 48, num_stages: 2, stem_channels: [8, 16], num_blocks: 1,\n"
        "        block_dilations: [1], head_channels: 8, num_text_queries: 2, text_hidden: 16, score_head: match,\n"
        "        embed_dim: 8}\n"
        f"data: {{sources: [{{kind: synthetic, root: '{data}'}}], samples_per_epoch: 32, num_workers: 0,\n"
        "       paired_referents: true, absent_object_prob: 0.2}\n"
        "optim: {lr: 3.0e-3, batch_size: 8, attribute_loss: 0.5}\n"
        "schedule: {epochs: 2, lr_drop_epochs: [1]}\n"
        "run: {seed: 0, device: cpu, threads: 1, progress: false}\n"
    )
    summary = GroundingTrainer(load_grounding_experiment(cfg), tmp_path / "run").train()
    assert summary["attribute"] > 0 and 0.0 <= summary["attribute_accuracy"] <= 1.0
    state = torch.load(tmp_path / "run" / "checkpoints" / "epoch_0002.pt", weights_only=True)
    assert "probe" in state  # training-only: the exported grounder has no probe weights
    exported = load_file(str(tmp_path / "run" / "final.safetensors"))
    assert not any(k.startswith("probe") for k in exported) and set(exported) == set(state["model"])
    resumed = GroundingTrainer(load_grounding_experiment(cfg, ["schedule.epochs=3"]), tmp_path / "run", resume=True)
    assert resumed.epoch == 2 and resumed.train()["epoch"] == 3


def test_text_query_positions_make_the_pooling_order_sensitive() -> None:
    from allinone_ros.grounding.net import TextQueries

    torch.manual_seed(0)
    tokens = torch.randn(1, 4, 16)
    swapped = tokens[:, [0, 2, 1, 3]]  # two words exchanged ("white ... black" vs "black ... white")
    mask = torch.ones(1, 4)
    plain = TextQueries(16, 8, 2)
    assert torch.allclose(plain(tokens, mask), plain(swapped, mask), atol=1e-6)  # a bag of tokens
    positional = TextQueries(16, 8, 2, max_len=4)
    assert torch.allclose(positional(tokens, mask), positional(swapped, mask), atol=1e-6)  # zero at the start
    with torch.no_grad():
        positional.positions.normal_()
    assert not torch.allclose(positional(tokens, mask), positional(swapped, mask), atol=1e-4)


# --------------------------------------------------------------------------- fine-tuning options, negatives


def _tiny_experiment(tmp_path: Path, data: Path, extra_optim: str = "") -> Path:
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(
        "model: {input_width: 64, input_height: 48, num_stages: 2, stem_channels: [8, 16], num_blocks: 1,\n"
        "        block_dilations: [1], head_channels: 8, num_text_queries: 2, text_hidden: 16}\n"
        f"data: {{sources: [{{kind: synthetic, root: '{data}'}}], samples_per_epoch: 16, num_workers: 0}}\n"
        f"optim: {{lr: 3.0e-3, batch_size: 8{extra_optim}}}\n"
        "schedule: {epochs: 1, lr_drop_epochs: [3]}\n"
        "run: {seed: 0, device: cpu, threads: 1, progress: false}\n"
    )
    return cfg


def test_init_from_and_a_frozen_stem(tmp_path: Path) -> None:
    data = tmp_path / "synthetic"
    generate_dataset(data, SyntheticConfig(num_sequences=2, num_frames=12, frame_width=128, frame_height=96,
                                           seed=5, out_of_view_prob=0.0, occlusion_prob=0.0))
    start = save_grounder(tmp_path / "start.safetensors", tiny_net(seed=4))
    initial = {k: v.clone() for k, v in load_grounder(start).state_dict().items()}
    cfg = _tiny_experiment(tmp_path, data, ", freeze_stem: true")
    trainer = GroundingTrainer(load_grounding_experiment(cfg), tmp_path / "run", init_from=start)
    for k, v in trainer.net.state_dict().items():
        assert torch.equal(v, initial[k]), k  # starts from the file's weights
    trainer.train()
    after = load_grounder(tmp_path / "run" / "final.safetensors").state_dict()
    stem = [k for k in after if k.startswith("stem.")]
    assert any("running_mean" in k for k in stem)
    assert all(torch.equal(after[k], initial[k]) for k in stem)  # weights and batch-norm statistics kept
    assert not torch.equal(after["film.0.weight"], initial["film.0.weight"])  # the rest learnt

    with pytest.raises(ConfigError, match="freeze_stem .* needs --init-from"):
        GroundingTrainer(load_grounding_experiment(cfg), tmp_path / "scratch")
    other = load_grounding_experiment(cfg, ["model.head_channels=12"])
    with pytest.raises(ConfigError, match=r"'head_channels': \(12, 8\)"):
        GroundingTrainer(other, tmp_path / "mismatch", init_from=start)


def test_described_absent_sentences_are_negatives_with_a_position_or_relation(tmp_path: Path) -> None:
    ds, _ = _scene_dataset(tmp_path, absent_object_prob=1.0, absent_sentence_style="described")
    described = 0
    for i in range(30):
        s = ds.sample(0, i)
        objects = ds.objects(_sequence(ds, s))
        assert not s["present"] and float(s["box_xywh"].abs().sum()) == 0.0
        words = s["sentence"].split()
        look = (words[2], words[1])  # "the <colour> <shape> ..."
        assert look not in {(o.shape, o.colour) for o in objects}
        described += len(words) > 3 and "drone" not in words and "ground" not in words
    assert described >= 15


def test_sequences_whose_sentence_names_an_absent_object_train_as_negatives(tmp_path: Path) -> None:
    from allinone_ros.training.config import DataSource
    from allinone_ros.training.grounding import FrameDataset, GroundingDataConfig

    root = tmp_path / "absent"
    generate_dataset(root, SyntheticConfig(num_sequences=3, num_frames=4, seed=9, absent_sentence=True,
                                           occlusion_prob=0.0, out_of_view_prob=0.0))
    data = GroundingDataConfig(sources=(DataSource(kind="synthetic", root=str(root)),), first_frame_prob=1.0,
                               hflip_prob=0.0)
    ds = FrameDataset.from_config(data, TextGrounderConfig(input_width=320, input_height=192), seed=3)
    for i in range(6):
        s = ds.sample(0, i)
        assert s["frame"] == 0 and s["sentence"] == _sequence(ds, s).sentence
        assert not s["present"] and float(s["box_xywh"].abs().sum()) == 0.0
