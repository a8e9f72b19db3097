"""Map foreign state dicts onto our parameter names and report every mismatch."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

# Buffers some writers add that we neither need nor keep.
IGNORED_KEYS = ("language_embeddings.position_ids", "language_embeddings.token_type_ids")
_PREFIXES = ("module.",)  # DistributedDataParallel / DataParallel wrappers


@dataclass
class FilterReport:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: file 1x2 vs model 3x4"
    ignored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        parts = []
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected), ("shape mismatch", self.mismatched)):
            if keys:
                shown = ", ".join(keys[:20]) + (f", ... ({len(keys)} in all)" if len(keys) > 20 else "")
                parts.append(f"{label}: {shown}")
        return "; ".join(parts)


def _shape(t: torch.Tensor) -> str:
    return "x".join(str(s) for s in t.shape) or "scalar"


def checkpoint_filter_fn(
    state_dict: dict[str, torch.Tensor],
    model_state: dict[str, torch.Tensor],
    optional_prefixes: tuple[str, ...] = (),
) -> tuple[dict[str, torch.Tensor], FilterReport]:
    """Return the state dict renamed to our keys, plus a report of what did not fit.

    Pure: inputs are not modified. ``optional_prefixes`` names model keys that may be absent from
    the file (e.g. a frozen text encoder whose weights come from its own directory).
    """
    report = FilterReport()
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = key
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        if name in IGNORED_KEYS:
            report.ignored.append(key)
            continue
        if name not in model_state:
            report.unexpected.append(key)
            continue
        if not isinstance(value, torch.Tensor):
            report.mismatched.append(f"{key}: not a tensor ({type(value).__name__})")
            continue
        if value.shape != model_state[name].shape:
            report.mismatched.append(f"{key}: file {_shape(value)} vs model {_shape(model_state[name])}")
            continue
        out[name] = value
    report.missing = [
        k for k in model_state if k not in out and not k.startswith(optional_prefixes)
        and k not in {m.split(":")[0] for m in report.mismatched}
    ]
    return out, report
