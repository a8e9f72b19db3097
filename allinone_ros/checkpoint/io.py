"""Load and save model checkpoints: the released format, plain state dicts, ours, safetensors."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config_io import ConfigError, from_dict, to_dict
from ..model import AllInOne, ModelConfig, build_model
from ..model.inference_settings import METADATA_KEY as SETTINGS_KEY, PAPER_SETTINGS, InferenceSettings
from .errors import CheckpointError
from .filter import checkpoint_filter_fn
from .safe_load import load_pickle_checkpoint

log = logging.getLogger(__name__)

FORMAT_NAME = "allinone_ros"
FORMAT_VERSION = 1
_STATE_KEYS = ("net", "model", "state_dict")
TEXT_ENCODER_PREFIX = "text_encoder."


@dataclass(frozen=True)
class RawCheckpoint:
    """What a checkpoint file holds: weights, the config if stored, and any extra metadata.

    ``inference``: the crop settings the network was trained with, None when the file stores none
    (the released checkpoint, foreign files, ours from before they were stored).
    """

    path: Path
    state_dict: dict[str, torch.Tensor]
    config: ModelConfig | None
    meta: dict[str, Any]
    inference: InferenceSettings | None = None


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A loaded network and the inference settings its file stores (None: none stored)."""

    model: AllInOne
    inference: InferenceSettings | None
    path: Path


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            return {k: f.get_tensor(k) for k in f.keys()}, meta
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read safetensors file ({exc})") from exc


def read_checkpoint(path: str | Path, trust: bool = False) -> RawCheckpoint:
    """Read any supported checkpoint file without building a model."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        state, meta = _read_safetensors(path)
        cfg_json = meta.get("allinone_config")
        cfg = _config_from(path, json.loads(cfg_json)) if cfg_json else None
        stored = meta.get(SETTINGS_KEY)
        extra = {k: _maybe_json(v) for k, v in meta.items() if k not in ("allinone_config", "format", SETTINGS_KEY)}
        settings = _settings_from(path, _maybe_json(stored)) if stored is not None else _settings_of_run(path, extra)
        return RawCheckpoint(path, state, cfg, extra, settings)
    obj = load_pickle_checkpoint(path, trust=trust)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors or a dict with 'net'/'model', got {type(obj).__name__}")
    cfg, settings = None, None
    if obj.get("format") == FORMAT_NAME:
        cfg = _config_from(path, obj.get("config"))
        if SETTINGS_KEY in obj:
            settings = _settings_from(path, obj[SETTINGS_KEY])
    for key in _STATE_KEYS:
        if isinstance(obj.get(key), dict):
            if cfg is not None:
                meta = dict(obj.get("meta") or {})
                settings = settings or _settings_of_run(path, meta)
            else:  # foreign files: keep their plain extras (epoch, ...) for information
                meta = {k: v for k, v in obj.items() if k != key}
            return RawCheckpoint(path, obj[key], cfg, meta, settings)
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return RawCheckpoint(path, obj, None, {})
    raise CheckpointError(
        f"{path}: no state dict found (looked for keys {list(_STATE_KEYS)} or a flat dict of tensors; "
        f"top-level keys are {sorted(map(str, obj))[:10]})"
    )


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _settings_from(path: Path, data: Any, where: str = "stored inference settings") -> InferenceSettings:
    try:
        return InferenceSettings.from_stored(data)
    except ValueError as exc:
        raise CheckpointError(f"{path}: malformed {where}: {exc}") from exc


def _settings_of_run(path: Path, meta: dict[str, Any]) -> InferenceSettings | None:
    """The crop factors of the training experiment an older checkpoint of ours stores (``meta['experiment']
    ['data']``; a factor it leaves out had the paper's default), or None when there is none."""
    experiment = meta.get("experiment")
    data = experiment.get("data") if isinstance(experiment, dict) else None
    names = PAPER_SETTINGS.to_dict()
    if not isinstance(data, dict) or not names.keys() & data.keys():
        return None
    settings = _settings_from(path, {k: data.get(k, v) for k, v in names.items()},
                              where="crop factors in the stored training experiment (experiment.data)")
    log.info("%s stores no inference settings; using the crop factors of its training experiment", path)
    return settings


def _config_from(path: Path, data: Any) -> ModelConfig:
    try:
        return from_dict(ModelConfig, data, where=f"{path} config")
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from exc


def infer_config(state: dict[str, torch.Tensor]) -> ModelConfig:
    """Recover a :class:`ModelConfig` from the shapes of a released-style state dict."""
    def get(key: str) -> torch.Tensor:
        for k in (key, "module." + key):
            if k in state:
                return state[k]
        raise CheckpointError(f"cannot infer the model config: key {key!r} is missing")

    patch = get("backbone.patch_embed.proj.weight")  # (C, 3, P, P)
    dim, p = int(patch.shape[0]), int(patch.shape[-1])
    depth = len({k.split(".")[2] for k in state if k.startswith(("backbone.blocks.", "module.backbone.blocks."))})
    n_z, n_x = int(get("backbone.pos_embed_z").shape[1]), int(get("backbone.pos_embed_x").shape[1])
    mlp = int(get("backbone.blocks.0.mlp.fc1.weight").shape[0])
    text_dim = int(get("backbone.language_proj.weight").shape[1])
    official = any(k.endswith("language_embeddings.word_embeddings.weight") for k in state)
    base = ModelConfig()
    return ModelConfig(
        embed_dim=dim, depth=depth, num_heads=max(1, dim // 64), mlp_ratio=mlp / dim, patch_size=p,
        template_size=int(round(n_z**0.5)) * p, search_size=int(round(n_x**0.5)) * p,
        ce_layers=tuple(i for i in base.ce_layers if i < depth),
        head_channels=int(get("box_head.conv1_ctr.0.weight").shape[0]),
        align_dim=int(get("backbone.language_xz_proj.weight").shape[0]),
        language_encoder="official" if official else "pretrained", text_dim=text_dim,
        text_vocab_size=int(state.get("language_embeddings.word_embeddings.weight", torch.empty(30522)).shape[0]),
        text_max_len=int(state.get("language_embeddings.position_embeddings.weight", torch.empty(40)).shape[0]),
    )


def load_model(path: str | Path, config: ModelConfig | None = None, trust: bool = False, attn_impl: str = "sdpa",
               device: str | torch.device = "cpu") -> AllInOne:
    """Build the network a checkpoint describes and load its weights strictly.

    The config comes from (in order) the ``config`` argument, the file, or the tensor shapes.
    Missing, unexpected or mis-shaped keys raise :class:`CheckpointError` naming the file and keys.
    """
    return load_checkpoint(path, config, trust, attn_impl, device).model


def load_checkpoint(
    path: str | Path,
    config: ModelConfig | None = None,
    trust: bool = False,
    attn_impl: str = "sdpa",
    device: str | torch.device = "cpu",
) -> LoadedCheckpoint:
    """:func:`load_model` plus the inference settings the file stores (see :class:`LoadedCheckpoint`)."""
    raw = read_checkpoint(path, trust=trust)
    cfg = config or raw.config or infer_config(raw.state_dict)
    frozen_external = cfg.language_encoder == "pretrained" and cfg.freeze_text_encoder
    model = build_model(cfg, attn_impl=attn_impl, load_text_weights=frozen_external)
    optional = (TEXT_ENCODER_PREFIX,) if frozen_external else ()
    state, report = checkpoint_filter_fn(raw.state_dict, model.state_dict(), optional_prefixes=optional)
    if not report.ok:
        raise CheckpointError(f"{raw.path}: weights do not fit the model ({report.describe()})")
    if report.ignored:
        log.info("%s: ignored legacy buffers %s", raw.path, report.ignored)
    if frozen_external:  # the frozen encoder keeps the weights it loaded from its own directory
        state.update({k: v for k, v in model.state_dict().items() if k.startswith(TEXT_ENCODER_PREFIX)})
    model.load_state_dict(state, strict=True)
    return LoadedCheckpoint(model.to(device).eval(), raw.inference, raw.path)


def save_checkpoint(path: str | Path, model: AllInOne, meta: dict[str, Any] | None = None,
                    inference: InferenceSettings = PAPER_SETTINGS) -> Path:
    """Write weights, the model config and the ``inference`` settings the network was trained with
    (``.safetensors`` or a torch file by suffix).

    A frozen pretrained text encoder is not stored: it is reloaded from its own directory.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if cfg.language_encoder == "pretrained" and cfg.freeze_text_encoder:
        state = {k: v for k, v in state.items() if not k.startswith(TEXT_ENCODER_PREFIX)}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        md = {"format": FORMAT_NAME, "allinone_config": json.dumps(to_dict(cfg))}
        md.update({k: json.dumps(v) if not isinstance(v, str) else v for k, v in (meta or {}).items()})
        md[SETTINGS_KEY] = json.dumps(inference.to_dict())
        save_file(state, str(path), metadata=md)
    else:
        torch.save(
            {"format": FORMAT_NAME, "version": FORMAT_VERSION, "config": to_dict(cfg), "model": state,
             "meta": dict(meta or {}), SETTINGS_KEY: inference.to_dict()},
            path,
        )
    return path
