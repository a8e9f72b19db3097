"""The tracker node's parameter table: every declared parameter with its default, text and limits.

The checks are in :mod:`allinone_ros.ros.node_checks`, the mapping onto the core's configs in
:mod:`allinone_ros.ros.node_config`; the spec type and its apply times (``startup``,
``configure``, ``live``) in :mod:`allinone_ros.ros.param_specs`. ``config/tracker.yaml`` holds
exactly these parameters with these defaults (test enforced).
"""
from __future__ import annotations

from ..backends.config import BACKENDS, PRECISIONS
from ..lifecycle import LifecycleConfig
from ..model.inference_settings import PAPER_SETTINGS
from ..ops.devices import DEVICES_HELP
from .param_specs import ParamSpec, Value

QOS_RELIABILITY_CHOICES = ("best_effort", "reliable")
NODE_NAME = "tracker_node"

_LC = LifecycleConfig()  # the one set of lifecycle defaults (node, CLIs, evaluation)
LIFECYCLE_PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("lost_threshold", _LC.lost_threshold,
              "Tracker confidence (score-map peak) below which an image does not show the target.",
              "live", range=(0.0, 1.0)),
    ParamSpec("appearance_threshold", _LC.appearance_threshold,
              "Colour similarity to the target (the first template or the recent appearance, whichever is "
              "closer) below which a box is not the target (0 = off).",
              "live", range=(0.0, 1.0)),
    ParamSpec("appearance_adapt", _LC.appearance_adapt,
              "Weight of each confident TRACKING image in the recent appearance, a running average that follows "
              "light and background changes (0 = compare with the first template only).",
              "live", range=(0.0, 1.0)),
    ParamSpec("verify_threshold", _LC.verify_threshold,
              "With a grounder that verifies boxes (the built-in one) and a sentence, a tracked box or a local "
              "re-search candidate must show the sentence's colour and shape with this probability (0 = off).",
              "live", range=(0.0, 1.0)),
    ParamSpec("verify_smoothing", _LC.verify_smoothing,
              "Weight of each TRACKING image's verification in the running average that verify_threshold tests "
              "there (1 = each image alone; one doubtful crop then ends the track).",
              "live", range=(0.01, 1.0)),
    ParamSpec("verify_every", _LC.verify_every,
              "While TRACKING, verify every k-th image (the running average holds in between): CPU cost vs. how soon "
              "a drift onto a look-alike is noticed.", "live", range=(1, 10000)),
    ParamSpec("verify_jump", _LC.verify_jump,
              "While TRACKING, a box further than this many target sizes from the predicted position is verified on "
              "its own on that image (no running average): a jump onto a look-alike beside the target.",
              "live", range=(0.0, 100.0)),
    ParamSpec("verify_watch", _LC.verify_watch,
              "After the grounder put the track back (re-acquired from LOST, or a correction near the prediction), "
              "verify each of this many TRACKING images on its own (no running average; 0 = off).",
              "live", range=(0, 10000)),
    ParamSpec("appearance_override", _LC.appearance_override,
              "A box failing only the appearance check still counts as the target when the verifier finds the "
              "sentence's colour and shape in it with this probability (light or ground changed; 1 = never).",
              "live", range=(0.0, 1.0)),
    ParamSpec("max_jump", _LC.max_jump,
              "A box centre further than this many target sizes from the predicted centre is not the target "
              "(the search stays where the target should be).",
              "live", range=(0.01, 100.0)),
    ParamSpec("jump_per_speed", _LC.jump_per_speed,
              "The allowed distance from the prediction grows by this many times the target's speed (target "
              "sizes per frame): a fast target may be further from where its motion predicts it.",
              "live", range=(0.0, 100.0)),
    ParamSpec("max_scale_change", _LC.max_scale_change,
              "A box whose size differs from the target's recent size by more than this factor is not the target.",
              "live", range=(1.0, 100.0)),
    ParamSpec("lost_patience", _LC.lost_patience,
              "Consecutive images without the target before the state becomes LOST.",
              "live", range=(1, 10000)),
    ParamSpec("recover_threshold", _LC.recover_threshold,
              "Score a candidate needs to re-acquire a LOST target.", "live", range=(0.0, 1.0)),
    ParamSpec("recover_patience", _LC.recover_patience,
              "Consecutive images with the same accepted candidate needed to leave LOST "
              "(a local candidate the grounder agrees with counts twice).", "live", range=(1, 10000)),
    ParamSpec("recover_needs_grounder", _LC.recover_needs_grounder,
              "With a grounder, a local re-search candidate further than max_jump from the predicted position "
              "re-acquires only where the grounder agrees.", "live"),
    ParamSpec("ground_threshold", _LC.ground_threshold,
              "Grounder score a candidate needs to start tracking from a sentence alone, or to re-find a lost target "
              "away from where it should be (inside the local search's region recover_threshold is enough).",
              "live", range=(0.0, 1.0)),
    ParamSpec("ground_margin", _LC.ground_margin,
              "A grounded candidate must beat every other place the grounder scores by this much (else the "
              "sentence is ambiguous and no candidate is taken).", "live", range=(0.0, 1.0)),
    ParamSpec("ground_confirm", _LC.ground_confirm,
              "Consecutive images the same grounded candidate is needed to start from a sentence alone.",
              "live", range=(1, 10000)),
    ParamSpec("reground_every", _LC.reground_every,
              "While LOST (with a grounder), search the whole image for the sentence on the first LOST image and "
              "every reground_every-th image after it.", "live", range=(1, 10000)),
    ParamSpec("max_search_factor", _LC.max_search_factor,
              "While LOST the local search region grows up to this many target sizes.", "live", range=(0.1, 100.0)),
)


PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "checkpoint", "",
        "Model checkpoint (.safetensors, .pth, .pth.tar). Empty = the package's default model "
        "(models/allinone_uav_small.safetensors).",
        "configure", constraints="an existing file, or empty for the default model",
    ),
    ParamSpec(
        "grounder", "",
        "What finds the target when a sentence comes without a box (and re-finds a lost target): "
        "'' = the package's built-in grounder (models/text_grounder_uav_small.safetensors, trained on the "
        "synthetic UAV data like the default model), 'none' = no grounding (a sentence alone waits for a box), "
        "a .safetensors file = a grounder trained with allinone-train-grounder, a directory = a transformers "
        "Grounding DINO / OWLv2 / OWL-ViT model saved with save_pretrained.",
        "configure", constraints="'', 'none', an existing .safetensors file or model directory",
    ),
    *(ParamSpec(f"{crop}_factor", 0.0,
                f"Side of the {crop} crop in target sizes. 0.0 = the value stored in the checkpoint "
                f"({getattr(PAPER_SETTINGS, crop + '_factor'):.1f}, the paper's, for a checkpoint that stores none); "
                "> 0 overrides it.", "configure", range=(0.0, 100.0)) for crop in ("template", "search")),
    ParamSpec(
        "device", "cpu", f"Inference device: {DEVICES_HELP}.",
        "configure", constraints="cpu, cuda or cuda:N with an available CUDA device N",
    ),
    ParamSpec(
        "backend", "eager",
        "Inference backend: eager (plain PyTorch, the reference), compile (torch.compile), tensorrt "
        "(Torch-TensorRT engine, CUDA only), onnxruntime (ONNX export run by ONNX Runtime), auto (the best one "
        "available: TensorRT, else compile on CUDA; ONNX Runtime if measured faster than eager on the CPU). "
        "Engines and ONNX files are built at configure and cached in engine_cache_dir; a backend that cannot "
        "run here fails configure with the reason.",
        "configure", choices=BACKENDS,
    ),
    ParamSpec(
        "precision", "fp32",
        "Compute precision of the network: fp32, fp16 or bf16 (boxes are float32 either way). Not every "
        "backend has every precision on every device (e.g. onnxruntime has no bf16): configure fails with "
        "the backend's reason.",
        "configure", choices=PRECISIONS,
    ),
    ParamSpec(
        "engine_cache_dir", "",
        "Directory of built engines and ONNX files, keyed by weights, precision, library versions and GPU. "
        "Empty = $ALLINONE_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache, then allinone_ros/engines.",
        "configure", constraints="a directory (created if missing), or empty for the default",
    ),
    ParamSpec(
        "trust_checkpoint", False,
        "Unpickle the checkpoint with full trust (runs code a pickle names). Only for files you trust; "
        "read-only so it cannot be switched on remotely.",
        "startup",
    ),
    ParamSpec(
        "cpu_threads", 0, "PyTorch intra-op threads (0 = PyTorch's default).",
        "configure", range=(0, 256),
    ),
    ParamSpec(
        "image_topic", "/camera/image_raw",
        "sensor_msgs/Image input topic. With compressed_input the node subscribes to "
        "<image_topic>/compressed (sensor_msgs/CompressedImage) instead.",
        "configure", constraints="a valid, non-empty ROS topic name",
    ),
    ParamSpec(
        "compressed_input", False, "Subscribe to <image_topic>/compressed (CompressedImage) instead of the raw topic.",
        "configure",
    ),
    ParamSpec(
        "qos_reliability", "best_effort",
        "Reliability of the image subscription (depth 1): best_effort (accepts best-effort and reliable "
        "publishers) or reliable.",
        "configure", choices=QOS_RELIABILITY_CHOICES,
    ),
    ParamSpec("camera_rate_hz", 0.0, "Camera frame rate, to estimate frames lost before the node from gaps in the "
              "image stamps (/diagnostics frames_missing_estimated). 0 = estimate the period from recent stamps: finds "
              "bursts and random loss, not a stream thinned uniformly (e.g. every second frame).",
              "live", range=(0.0, 1000.0)),
    ParamSpec("input_loss_warn", 0.05, "/diagnostics is WARN (and the node logs a warning) while more than this "
              "fraction of the recent camera frames is missing from the stamp sequence (1 = never).",
              "live", range=(0.0, 1.0)),
    ParamSpec(
        "frame_history", 30,
        "Number of recent input images kept so that a track_request whose stamp names one of them "
        "starts on that very image (0 = always start on the next image).",
        "configure", range=(0, 300),
    ),
    *LIFECYCLE_PARAMETERS,
    ParamSpec(
        "max_rate_hz", 0.0,
        "Process at most this many images per second (0 = as fast as the model runs). Images arriving "
        "in between replace the waiting one and are counted as dropped.",
        "live", range=(0.0, 1000.0),
    ),
    ParamSpec(
        "max_sentence_chars", 1024,
        "Longer sentences (track_command, track_request) are rejected with a log line, not truncated. "
        "Accepted sentences longer than the model's token limit (40 tokens) are used up to that limit, "
        "with a warning.",
        "live", range=(1, 65536),
    ),
    ParamSpec(
        "debug_image", False, "Publish an annotated copy of each processed image on ~/debug_image "
        "(only while someone subscribes).",
        "live",
    ),
    ParamSpec(
        "autostart", True,
        "Configure and activate at start. false = stay unconfigured for a lifecycle manager.",
        "startup",
    ),
)

SPECS: dict[str, ParamSpec] = {p.name: p for p in PARAMETERS}


def defaults() -> dict[str, Value]:
    return {p.name: p.default for p in PARAMETERS}
