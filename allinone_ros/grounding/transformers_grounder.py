"""Zero-shot detectors from ``transformers`` (Grounding DINO, OWLv2, OWL-ViT) as a :class:`Grounder`.

Models load only from a local directory (``local_files_only=True``); nothing is downloaded.
``transformers`` is imported when a grounder is built, so importing this module stays cheap.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..tracker.preprocess import InputError, check_image
from .base import Candidate, GrounderConfig, GroundingModelError, sort_candidates

log = logging.getLogger(__name__)

# config.json "model_type" -> (transformers model class name, family)
SUPPORTED_MODEL_TYPES: dict[str, tuple[str, str]] = {
    "grounding-dino": ("AutoModelForZeroShotObjectDetection", "grounding_dino"),
    "owlv2": ("Owlv2ForObjectDetection", "owl"),
    "owlvit": ("OwlViTForObjectDetection", "owl"),
}

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json")
EXPECTED_HELP = (
    "config.json; weights model.safetensors or pytorch_model.bin; "
    "preprocessor_config.json or processor_config.json; tokenizer files (tokenizer.json, vocab.txt or vocab.json)"
)


def check_model_dir(model_dir: str | Path) -> str:
    """Check that ``model_dir`` holds a complete, supported detector; return its ``model_type``."""
    path = Path(model_dir)
    if not path.is_dir():
        raise GroundingModelError(f"grounding model directory {str(path)!r} does not exist; expected it to hold "
                                  f"{EXPECTED_HELP} (save them with save_pretrained)")
    present = {p.name for p in path.iterdir()}
    missing = []
    if "config.json" not in present:
        missing.append("config.json")
    if not present & set(WEIGHT_FILES):
        missing.append("a weights file (model.safetensors or pytorch_model.bin)")
    if not present & set(PROCESSOR_FILES):
        missing.append("a preprocessor file (preprocessor_config.json or processor_config.json)")
    if not present & set(TOKENIZER_FILES):
        missing.append("tokenizer files (tokenizer.json, vocab.txt or vocab.json)")
    if missing:
        raise GroundingModelError(f"grounding model directory {str(path)!r} is incomplete: missing {', '.join(missing)}; "
                                  f"expected {EXPECTED_HELP}")
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise GroundingModelError(f"{str(path / 'config.json')!r} is not a readable JSON model config: {exc}") from exc
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise GroundingModelError(f"grounding model in {str(path)!r} has model_type {model_type!r}; "
                                  f"supported: {sorted(SUPPORTED_MODEL_TYPES)}")
    return model_type


def check_sentence(sentence: object) -> str:
    if not isinstance(sentence, str):
        raise InputError(f"sentence must be a string, got {type(sentence).__name__}")
    text = sentence.strip()
    if not text:
        raise InputError(f"sentence must not be empty, got {sentence!r}")
    return text


def grounding_dino_text(sentence: str) -> str:
    """Grounding DINO expects lower-case phrases, each ending with a period."""
    text = sentence.strip().lower()
    return text if text.endswith(".") else text + "."


def xyxy_to_candidates(boxes_xyxy: np.ndarray, scores: np.ndarray, labels: list[str], img_h: int, img_w: int,
                       config: GrounderConfig) -> list[Candidate]:
    """Clip pixel ``box_xyxy`` rows into the image, convert to ``box_xywh``, filter and sort."""
    out = []
    for (x1, y1, x2, y2), score, label in zip(boxes_xyxy.tolist(), scores.tolist(), labels):
        x1, x2 = min(max(x1, 0.0), float(img_w)), min(max(x2, 0.0), float(img_w))
        y1, y2 = min(max(y1, 0.0), float(img_h)), min(max(y2, 0.0), float(img_h))
        w, h = x2 - x1, y2 - y1
        if score <= config.score_threshold or w < config.min_box_size or h < config.min_box_size or w <= 0 or h <= 0:
            continue
        out.append(Candidate(box_xywh=np.array([x1, y1, w, h], dtype=np.float64), score=float(score), label=label))
    return sort_candidates(out)[: config.max_candidates]


class TransformersGrounder:
    """Grounding DINO / OWLv2 / OWL-ViT loaded from a local ``save_pretrained`` directory."""

    def __init__(self, model_dir: str | Path, config: GrounderConfig | None = None) -> None:
        self.config = config or GrounderConfig()
        self.model_dir = Path(model_dir)
        self.model_type = check_model_dir(self.model_dir)
        class_name, self.family = SUPPORTED_MODEL_TYPES[self.model_type]
        import torch
        import transformers

        if self.config.device.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {self.config.device!r} requested but CUDA is not available here; use 'cpu'")
        self._torch = torch
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(self.model_dir, local_files_only=True)
            model_cls = getattr(transformers, class_name)
            self.model = model_cls.from_pretrained(self.model_dir, local_files_only=True)
        except (OSError, ValueError, KeyError) as exc:
            raise GroundingModelError(f"could not load the {self.model_type} model from {str(self.model_dir)!r}: {exc}; "
                                      f"expected {EXPECTED_HELP}") from exc
        self.model = self.model.to(self.config.device).eval()
        log.info("loaded %s grounder from %s", self.model_type, self.model_dir)

    def ground(self, image_rgb: np.ndarray, sentence: str) -> list[Candidate]:
        """Candidates for ``sentence`` in ``image_rgb`` (HxWx3 uint8), boxes in its pixels, best first."""
        img_h, img_w = check_image(image_rgb)
        text = check_sentence(sentence)
        from PIL import Image

        image = Image.fromarray(np.ascontiguousarray(image_rgb))
        torch = self._torch
        if self.family == "grounding_dino":
            prompt = grounding_dino_text(text)
            inputs = self.processor(images=image, text=prompt, return_tensors="pt").to(self.config.device)
        else:
            inputs = self.processor(images=image, text=[[text]], return_tensors="pt").to(self.config.device)
        with torch.inference_mode():
            outputs = self.model(**inputs)
        target_sizes = [(img_h, img_w)]  # (height, width): the processors scale back to the input image
        if self.family == "grounding_dino":
            result = self.processor.post_process_grounded_object_detection(
                outputs, inputs["input_ids"], threshold=self.config.score_threshold,
                text_threshold=self.config.text_threshold, target_sizes=target_sizes,
            )[0]
            specials = set(getattr(self.processor.tokenizer, "all_special_tokens", []))
            labels = [" ".join(w for w in str(lab).split() if w not in specials).strip() or text
                      for lab in result["text_labels"]]
        else:
            result = self.processor.post_process_grounded_object_detection(
                outputs, threshold=self.config.score_threshold, target_sizes=target_sizes, text_labels=[[text]],
            )[0]
            labels = [str(lab) for lab in result["text_labels"]]
        boxes_xyxy = result["boxes"].detach().float().cpu().numpy().reshape(-1, 4).astype(np.float64)
        scores = result["scores"].detach().float().cpu().numpy().reshape(-1)
        candidates = xyxy_to_candidates(boxes_xyxy, scores, labels, img_h, img_w, self.config)
        log.debug("%s: %d candidate(s) for %r", self.model_type, len(candidates), text)
        return candidates
