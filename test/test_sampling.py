"""Template/search pair sampling and pair augmentation.

The test sequences are black frames with one white rectangle whose pixels span exactly the
ground-truth box, so the white area found in a crop shows where the target really landed.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from allinone_ros.data.augment import (
    AugmentConfig,
    adjust_brightness,
    augment_pair,
    swap_left_right,
    to_grayscale,
)
from allinone_ros.data.sampling import PairSampler, PairSamplingConfig, TrainingPair, sample_frame_pair
from allinone_ros.data.sequence import Sequence, read_sequence_dir
from allinone_ros.ops.crop import crop_geometry

WIDTH, HEIGHT = 320, 240
TARGET_W, TARGET_H = 30, 20
SENTENCE = "the white box left of the black one"


def _write_sequence(root: Path, name: str, n: int, out_of_view: list[int] | None = None) -> Path:
    seq_dir = root / name
    (seq_dir / "img").mkdir(parents=True)
    lines = []
    for t in range(n):
        x, y = 60 + 17 * t % 200, 50 + 11 * t % 150
        frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        frame[y : y + TARGET_H, x : x + TARGET_W] = 255
        cv2.imwrite(str(seq_dir / "img" / f"{t + 1:08d}.png"), frame)
        lines.append(f"{x},{y},{TARGET_W},{TARGET_H}\n")
    (seq_dir / "groundtruth.txt").write_text("".join(lines))
    (seq_dir / "nlp.txt").write_text(SENTENCE + "\n")
    flags = out_of_view if out_of_view is not None else [0] * n
    (seq_dir / "out_of_view.txt").write_text(",".join(map(str, flags)) + "\n")
    (seq_dir / "full_occlusion.txt").write_text(",".join("0" * n) + "\n")
    return seq_dir


@pytest.fixture(scope="module")
def sequences(tmp_path_factory: pytest.TempPathFactory) -> list[Sequence]:
    root = tmp_path_factory.mktemp("pairs")
    return [read_sequence_dir(_write_sequence(root, f"box-{k}", 12)) for k in range(1, 3)]


def _white_box_xyxy(crop: np.ndarray) -> np.ndarray:
    """Bounds of the bright pixels of a crop, as continuous xyxy in crop pixels."""
    ys, xs = np.nonzero(crop[:, :, 0] > 127)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)


# ----------------------------------------------------------------------------- crops and boxes


def test_search_crop_contains_the_target_where_the_box_says(sequences: list[Sequence]) -> None:
    sampler = PairSampler(sequences)
    rng = np.random.default_rng(0)
    for _ in range(25):
        pair = sampler.sample(rng)
        assert pair.search.shape == (256, 256, 3) and pair.template.shape == (128, 128, 3)
        assert pair.search.dtype == np.uint8
        # normalised boxes: xyxy clamped into [0, 1], the centre inside the crop
        assert np.all((pair.search_box_xyxy >= 0) & (pair.search_box_xyxy <= 1))
        assert 0 <= pair.search_box_cxcywh[0] <= 1 and 0 <= pair.search_box_cxcywh[1] <= 1
        # the white target in the crop sits on the clamped box (bilinear edges: within 1.5 px)
        np.testing.assert_allclose(_white_box_xyxy(pair.search), pair.search_box_xyxy * 256, atol=1.5)
        np.testing.assert_allclose(_white_box_xyxy(pair.template), pair.template_box_xyxy * 128, atol=1.5)
        # the search crop is taken around the jittered box
        jit = pair.search_jittered_box_xywh
        assert pair.search_geometry.center_xy == pytest.approx((jit[0] + jit[2] / 2, jit[1] + jit[3] / 2))
        assert pair.search_geometry.side == math.ceil(math.sqrt(jit[2] * jit[3]) * 4.0)
        assert pair.sentence == SENTENCE
        assert pair.search_frame > pair.template_frame


def test_without_jitter_the_target_is_centred_at_the_crop_scale(sequences: list[Sequence]) -> None:
    # 30 x 20 box: search side = ceil(4 * sqrt(600)) = ceil(97.98) = 98, template side = ceil(48.99) = 49.
    # Centre 0.5 up to the rounding of the crop corner (half a source pixel: 0.5 / side).
    config = PairSamplingConfig(center_jitter=0.0, scale_jitter=0.0)
    pair = PairSampler(sequences, config).sample(np.random.default_rng(1))
    np.testing.assert_allclose(pair.search_box_cxcywh[2:], [30 / 98, 20 / 98], rtol=1e-6)
    np.testing.assert_allclose(pair.search_box_cxcywh[:2], [0.5, 0.5], atol=0.5 / 98 + 1e-6)
    np.testing.assert_allclose(pair.template_box_cxcywh[2:], [30 / 49, 20 / 49], rtol=1e-6)
    np.testing.assert_allclose(pair.template_box_cxcywh[:2], [0.5, 0.5], atol=0.5 / 49 + 1e-6)


def test_jitter_moves_and_scales_the_target_within_the_documented_bounds(sequences: list[Sequence]) -> None:
    # Offset <= 1.5 sqrt(w'h') and side >= 4 sqrt(w'h'): |c - 0.5| <= 0.375 (+ corner rounding).
    sampler = PairSampler(sequences)
    rng = np.random.default_rng(2)
    centres, widths = [], []
    for _ in range(150):
        pair = sampler.sample(rng)
        bound = 0.375 + 1.0 / pair.search_geometry.side
        assert np.all(np.abs(pair.search_box_cxcywh[:2] - 0.5) <= bound)
        centres.append(pair.search_box_cxcywh[:2])
        widths.append(pair.search_box_cxcywh[2])
    centres_arr = np.asarray(centres)
    assert centres_arr.std(axis=0).min() > 0.05  # the centre really moves
    assert np.std(np.log(widths)) > 0.1  # and the scale really changes (about 0.25 / sqrt(2))


def test_sampling_is_deterministic_given_the_generator_seed(sequences: list[Sequence]) -> None:
    sampler = PairSampler(sequences)
    a = [sampler.sample(np.random.default_rng(11)) for _ in range(2)]
    for first, second in zip(a, [sampler.sample(np.random.default_rng(11)) for _ in range(2)]):
        assert (first.sequence_name, first.template_frame, first.search_frame) == (
            second.sequence_name, second.template_frame, second.search_frame,
        )  # fmt: skip
        np.testing.assert_array_equal(first.search, second.search)
        np.testing.assert_array_equal(first.search_box_cxcywh, second.search_box_cxcywh)
    other = sampler.sample(np.random.default_rng(12))
    assert not np.array_equal(other.search_box_cxcywh, a[0].search_box_cxcywh)


# ----------------------------------------------------------------------------- frame choice


def test_only_visible_frames_within_the_gap_are_paired(tmp_path: Path) -> None:
    flags = [0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0]
    seq = read_sequence_dir(_write_sequence(tmp_path, "flags-1", 12, out_of_view=flags))
    visible = {t for t, f in enumerate(flags) if f == 0}
    sampler = PairSampler([seq], PairSamplingConfig(max_gap=2))
    rng = np.random.default_rng(4)
    seen = set()
    for _ in range(60):
        pair = sampler.sample(rng)
        assert pair.template_frame in visible and pair.search_frame in visible
        assert 0 < pair.search_frame - pair.template_frame <= 2
        seen.add((pair.template_frame, pair.search_frame))
    # visible 0, 3, 4, 6, 10, 11: pairs within 2 frames after the template
    assert seen == {(3, 4), (4, 6), (10, 11)}


def test_negative_pairs_search_an_absent_frame_around_the_last_visible_box(tmp_path: Path) -> None:
    # The white box is drawn in every frame, also where the flags say "out of view": a negative's
    # search crop comes from the absent frame, so its white pixels show where that frame's box is.
    flags = [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    seq = read_sequence_dir(_write_sequence(tmp_path, "absent-1", 12, out_of_view=flags))
    sampler = PairSampler([seq], PairSamplingConfig(max_gap=3, negative_prob=1.0, center_jitter=0.0,
                                                    scale_jitter=0.0))
    rng = np.random.default_rng(8)
    seen = set()
    for _ in range(40):
        pair = sampler.sample(rng)
        assert not pair.search_present
        assert flags[pair.search_frame] == 1 and flags[pair.template_frame] == 0
        reference = max(t for t in range(pair.search_frame) if flags[t] == 0)  # last visible before
        assert pair.search_frame - 3 <= pair.template_frame <= reference
        box = seq.boxes_xywh[reference]
        assert np.allclose(pair.search_jittered_box_xywh, box)  # no jitter: crop around that box
        geom = crop_geometry(tuple(box), 4.0, 256)
        assert pair.search_geometry == geom
        seen.add((pair.template_frame, pair.search_frame))
    assert {s for _, s in seen} == {2, 3, 7}
    # negative_prob 0 (the default) never gives one
    plain = PairSampler([seq], PairSamplingConfig(max_gap=3))
    assert all(plain.sample(np.random.default_rng(k)).search_present for k in range(20))


def test_sample_frame_pair_rules() -> None:
    rng = np.random.default_rng(0)
    visible = np.array([0, 5, 6, 20])
    # causal, gap 3: only 5 has a visible successor within 3 frames (6)
    assert {sample_frame_pair(visible, 3, True, rng) for _ in range(20)} == {(5, 6)}
    # non-causal: 5 and 6 pair either way
    assert {sample_frame_pair(visible, 3, False, rng) for _ in range(40)} == {(5, 6), (6, 5)}
    assert sample_frame_pair(np.array([7]), 3, True, rng) == (7, 7)  # a lone frame pairs with itself
    assert sample_frame_pair(np.array([0, 10]), 3, True, rng) is None
    assert sample_frame_pair(np.array([], dtype=int), 3, True, rng) is None


def test_sampler_rejects_unusable_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one sequence"):
        PairSampler([])
    hidden = read_sequence_dir(_write_sequence(tmp_path, "hidden-1", 3, out_of_view=[1, 1, 1]))
    with pytest.raises(ValueError, match="hidden-1"):
        PairSampler([hidden])
    with pytest.raises(ValueError, match="max_gap must be >= 1, got 0"):
        PairSamplingConfig(max_gap=0)


# ----------------------------------------------------------------------------- augmentation


def test_flip_mirrors_both_crops_boxes_and_sentence(sequences: list[Sequence]) -> None:
    pair = PairSampler(sequences).sample(np.random.default_rng(5))
    config = AugmentConfig(brightness_jitter=0.0, grayscale_prob=0.0, hflip_prob=1.0)
    flipped = augment_pair(pair, np.random.default_rng(0), config)
    np.testing.assert_array_equal(flipped.search, pair.search[:, ::-1])
    np.testing.assert_array_equal(flipped.template, pair.template[:, ::-1])
    x1, y1, x2, y2 = pair.search_box_xyxy
    np.testing.assert_allclose(flipped.search_box_xyxy, [1 - x2, y1, 1 - x1, y2], rtol=1e-6)
    assert flipped.search_box_cxcywh[0] == pytest.approx(1 - pair.search_box_cxcywh[0])
    np.testing.assert_allclose(_white_box_xyxy(flipped.search), flipped.search_box_xyxy * 256, atol=1.5)
    assert flipped.sentence == "the white box right of the black one"


def test_swap_left_right_whole_words_only() -> None:
    assert swap_left_right("Left of the leftmost car, right lane") == "Right of the leftmost car, left lane"


def _pair_from_images(template: np.ndarray, search: np.ndarray) -> TrainingPair:
    base = PairSamplingConfig()
    geom = crop_geometry((0.0, 0.0, 10.0, 10.0), base.search_factor, base.search_size)
    box = np.array([0.5, 0.5, 0.2, 0.2], dtype=np.float32)
    return TrainingPair(
        template=template, search=search, template_box_cxcywh=box, template_box_xyxy=box,
        search_box_cxcywh=box, search_box_xyxy=box, sentence="the red car", sequence_name="s",
        template_frame=0, search_frame=1, template_geometry=geom, search_geometry=geom,
        search_jittered_box_xywh=np.zeros(4),
    )  # fmt: skip


def test_grayscale_and_brightness() -> None:
    # Pure red (255, 0, 0): luma 0.299 * 255 = 76.2 -> 76 on all three channels.
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    assert to_grayscale(red)[0, 0].tolist() == [76, 76, 76]
    # 100 * 0.5 = 50; 200 * 1.5 = 300 -> clipped to 255
    assert adjust_brightness(np.full((1, 1, 3), 100, np.uint8), 0.5)[0, 0].tolist() == [50, 50, 50]
    assert adjust_brightness(np.full((1, 1, 3), 200, np.uint8), 1.5)[0, 0].tolist() == [255, 255, 255]

    grey = np.full((8, 8, 3), 100, dtype=np.uint8)
    pair = _pair_from_images(grey.copy(), grey.copy())
    rng = np.random.default_rng(9)
    factors = []
    for _ in range(50):
        out = augment_pair(pair, rng, AugmentConfig(brightness_jitter=0.2, grayscale_prob=0.0))
        factors += [out.template[0, 0, 0] / 100.0, out.search[0, 0, 0] / 100.0]
    assert min(factors) >= 0.8 - 0.005 and max(factors) <= 1.2 + 0.005  # factor in [0.8, 1.2]
    assert max(factors) - min(factors) > 0.2
    np.testing.assert_array_equal(pair.template, grey)  # the input pair is untouched

    colourful = np.zeros((4, 4, 3), dtype=np.uint8)
    colourful[..., 1] = 200
    gray_pair = augment_pair(
        _pair_from_images(colourful, colourful), np.random.default_rng(0),
        AugmentConfig(brightness_jitter=0.0, grayscale_prob=1.0),
    )  # fmt: skip
    for crop in (gray_pair.template, gray_pair.search):
        assert np.all(crop[..., 0] == crop[..., 1]) and np.all(crop[..., 1] == crop[..., 2])


def test_augmentation_is_deterministic_given_the_generator_seed() -> None:
    gen = np.random.default_rng(0)
    image = gen.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    pair = _pair_from_images(image, image)
    config = AugmentConfig(hflip_prob=0.5, grayscale_prob=0.5)
    a = augment_pair(pair, np.random.default_rng(3), config)
    b = augment_pair(pair, np.random.default_rng(3), config)
    np.testing.assert_array_equal(a.search, b.search)
    np.testing.assert_array_equal(a.template, b.template)
    assert a.sentence == b.sentence
    with pytest.raises(ValueError, match="hflip_prob must be in"):
        AugmentConfig(hflip_prob=1.5)
