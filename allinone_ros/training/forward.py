"""The training forward pass as one module (what DistributedDataParallel wraps) and the
cache of frozen text-encoder features."""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from ..model import AllInOne


class TrainOutput(NamedTuple):
    score_map: torch.Tensor  # (B, 1, G, G) float32
    size_map: torch.Tensor  # (B, 2, G, G) float32
    offset_map: torch.Tensor  # (B, 2, G, G) float32
    kept_index: torch.Tensor  # (B, K)
    vision_x: torch.Tensor  # (B, D) alignment embeddings
    vision_z: torch.Tensor
    language: torch.Tensor


def text_is_frozen(model: AllInOne) -> bool:
    return model.cfg.language_encoder == "official" or model.cfg.freeze_text_encoder


class TrainingForward(nn.Module):
    """``AllInOne.forward_train`` with the centre head always in float32.

    Under bf16/fp16 autocast the head's sigmoid clamp ``[1e-4, 1 - 1e-4]`` would round to 1.0
    and break the focal loss, so the backbone runs under the caller's autocast and the head
    outside it. The sentence comes either as cached text-encoder features ``text_feat``
    (B, text_dim) -- frozen encoder -- or as token ids and mask, run through the (trained)
    encoder here so that its gradients are part of this module's forward.
    """

    def __init__(self, model: AllInOne) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        template: torch.Tensor,
        search: torch.Tensor,
        keep_ratio: float,
        text_feat: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> TrainOutput:
        m = self.model
        if text_feat is not None:
            lang = m.backbone.language_vector(text_feat)  # (B, C)
        elif input_ids is not None and attention_mask is not None:
            lang = m.encode_text(input_ids, attention_mask)
        else:
            raise ValueError("TrainingForward needs text_feat or input_ids + attention_mask")
        patches = m.backbone.embed(template, search)
        feat, kept = m.forward_features(patches, lang, keep_ratio)  # (B, C, G, G)
        with torch.autocast(device_type=feat.device.type, enabled=False):
            score, size, offset = m.forward_head(feat.float())
        vx, vz, vl = m.backbone.forward_alignment(patches, lang)
        return TrainOutput(score, size, offset, kept, vx.float(), vz.float(), vl.float())


class TextFeatureCache:
    """Frozen text-encoder features per sentence, computed once, one sentence at a time.

    One sentence at a time makes a feature independent of which other sentences share its
    batch, so training is reproducible regardless of batch composition.
    """

    def __init__(self, model: AllInOne, max_entries: int = 100_000) -> None:
        if not text_is_frozen(model):
            raise ValueError("TextFeatureCache needs a frozen text encoder (freeze_text_encoder=True or 'official')")
        self.model = model
        self.max_entries = max_entries
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cache)

    def features(self, sentences: list[str], input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, text_dim) features for the batch's sentences (ids/mask rows belong to ``sentences``)."""
        out = []
        module = self.model.text_module
        for i, s in enumerate(sentences):
            feat = self._cache.get(s)
            if feat is None:
                was_training = module.training
                module.eval()
                with torch.no_grad():
                    feat = module(input_ids[i : i + 1], attention_mask[i : i + 1])[0].float()
                module.train(was_training)
                self._cache[s] = feat
                if len(self._cache) > self.max_entries:
                    self._cache.popitem(last=False)
            out.append(feat)
        return torch.stack(out)
