"""Starting from the sentence alone with the shipped default models: ``allinone-eval --mode nl`` and
``allinone-track --nl-only`` on sequences the synthetic generator writes (a seed never used in
training, a same-shape distractor of another colour next to every target)."""
import numpy as np
import pytest

from allinone_ros.cli.eval import main as eval_main
from allinone_ros.cli.track import main as track_main
from allinone_ros.data.datasets import open_dataset
from allinone_ros.data.synthetic import SyntheticConfig, generate_dataset
from allinone_ros.evaluation.results import read_boxes_file
from allinone_ros.ops.iou import box_iou_xywh as box_iou


# the start mechanism, not the shipped grounder's refusal rules (threshold 0.6, margin 0.1), which
# scripts/eval_lifecycle.py measures on held-out sets
MECHANISM = ["--lifecycle", "ground_threshold=0.3", "--lifecycle", "ground_margin=0"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("nl_synthetic")
    generate_dataset(root, SyntheticConfig(num_sequences=4, num_frames=12, seed=4343, same_shape_distractor=True,
                                           occlusion_prob=0.0, out_of_view_prob=0.0))
    return root


def first_box(boxes):
    """Index and row of the first frame with a box."""
    i = int(np.flatnonzero(boxes[:, 2] > 0)[0])
    return i, boxes[i]


def test_eval_nl_mode_grounds_the_named_target_within_two_frames(tmp_path, dataset, capsys):
    out = tmp_path / "eval"
    code = eval_main(["--dataset-root", str(dataset), "--out", str(out), "--mode", "nl", "--threads", "1",
                      "--no-progress", *MECHANISM])
    assert code == 0, capsys.readouterr().err
    hits = []
    for seq in open_dataset("lasot", dataset):
        boxes = read_boxes_file(out / "default" / f"{seq.name}.txt")
        assert boxes.shape == (12, 4)
        # the first box is a grounded one (confirmed on two images in a row, so frame 2 at the earliest;
        # later where the grounder hesitates between look-alikes), not the ground truth ...
        i, box = first_box(boxes)
        assert i <= 3 and not np.allclose(box, seq.boxes_xywh[i], atol=1e-3)
        hits.append(box_iou(box, seq.boxes_xywh[i]) > 0.5)
    # ... and mostly on the sentence's target, not on the same-shape distractor beside it
    # (scripts/eval_grounding.py measures the rate on 20 held-out sequences)
    assert sum(hits) >= 3, hits
    assert "AUC" in (out / "report" / "summary.md").read_text()


def test_track_cli_nl_only_ignores_the_initial_box(tmp_path, dataset, capsys):
    seq = open_dataset("lasot", dataset)[0]
    seq_dir = dataset / "uav" / seq.name
    out = tmp_path / "boxes.txt"
    code = track_main(["--sequence", str(seq_dir), "--nl-only", "--init-box", "1,1,5,5", "--output", str(out),
                       "--threads", "1", "--no-progress", *MECHANISM])
    err = capsys.readouterr().err
    assert code == 0, err
    boxes = np.loadtxt(out, delimiter=",")
    assert boxes.shape == (12, 4)
    i, box = first_box(boxes)
    assert i <= 3 and not np.allclose(box, [1, 1, 5, 5])
    assert "frames per state:" in err and "TRACKING" in err
    assert track_main(["--sequence", str(seq_dir), "--nl-only", "--text", "  ", "--no-progress"]) == 2
    assert "--nl-only needs a sentence" in capsys.readouterr().err
    assert track_main(["--sequence", str(seq_dir), "--lifecycle", "ground_treshold=0.3", "--no-progress"]) == 2
    assert "--lifecycle: unknown setting 'ground_treshold'" in capsys.readouterr().err
    assert track_main(["--sequence", str(seq_dir), "--lifecycle", "ground_threshold=2", "--no-progress"]) == 2
    assert "ground_threshold must be a number in [0, 1], got 2" in capsys.readouterr().err
