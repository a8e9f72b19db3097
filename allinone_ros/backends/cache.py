"""Artifact cache: engines/ONNX files keyed by weights, shapes, precision, library versions and device.

Every artifact ``X`` has a JSON sidecar ``X.json`` holding the key it was built for and the
artifact's own sha256. An artifact whose key differs from the one wanted, whose sidecar is
missing or unreadable, or whose bytes no longer match the recorded sha256 is never used silently:
it is rebuilt with a log line naming the reason, or refused with :class:`ArtifactError`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import ArtifactError

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_CHUNK = 1 << 22


def weights_sha256(module: torch.nn.Module) -> str:
    """sha256 over the module's state dict: every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        h.update(memoryview(t.reshape(-1).numpy()).cast("B"))
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def package_version(name: str) -> str:
    """Installed version of a distribution, or 'absent'."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def device_identity(device: str) -> dict[str, Any]:
    """What an artifact built for ``device`` depends on: GPU name and capability, or the CPU."""
    if device.startswith("cuda"):
        dev = torch.device(device)
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        return {"gpu": torch.cuda.get_device_name(index), "capability": f"{major}.{minor}",
                "cuda": torch.version.cuda}
    return {"cpu": platform.machine()}


def sidecar_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".json")


def describe_key_difference(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    diffs = []
    for k in sorted(set(stored) | set(wanted)):
        if stored.get(k) != wanted.get(k):
            a, b = stored.get(k, "<missing>"), wanted.get(k, "<missing>")
            diffs.append(f"{k}: built for {_short(a)}, wanted {_short(b)}")
    return "; ".join(diffs)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def artifact_problem(artifact: Path, key: Mapping[str, Any]) -> str | None:
    """Why ``artifact`` cannot be used for ``key`` (None when it can)."""
    side = sidecar_path(artifact)
    if not side.is_file():
        return f"its key file {side.name} is missing, so what it was built for is unknown"
    try:
        record = json.loads(side.read_text())
        stored_key, stored_sha = record["key"], record["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"its key file {side.name} is unreadable ({type(exc).__name__}: {exc})"
    if stored_key != dict(key):
        return f"it was built for another configuration ({describe_key_difference(stored_key, key)})"
    actual = file_sha256(artifact)
    if actual != stored_sha:
        return f"the file is corrupt or was modified (sha256 {actual[:12]}..., recorded {stored_sha[:12]}...)"
    return None


def file_mode() -> int:
    """The mode ``open()`` would give a new file under the current umask (``mkstemp`` always gives 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_sidecar(artifact: Path, key: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Path:
    record = {"format": CACHE_FORMAT, "key": dict(key), "sha256": file_sha256(artifact),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **dict(extra or {})}
    side = sidecar_path(artifact)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{side.name}.", suffix=".tmp", dir=side.parent)
    os.chmod(tmp_name, file_mode())
    try:  # readers never see a half-written key file (a racing writer's hash mismatch means a rebuild)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record, indent=2, sort_keys=True) + "\n")
        os.replace(tmp_name, side)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return side


def read_sidecar(artifact: Path) -> dict[str, Any]:
    return json.loads(sidecar_path(artifact).read_text())


def build_artifact(
    artifact: Path, key: Mapping[str, Any], build: Callable[[Path], Mapping[str, Any] | None]
) -> Path:
    """Run ``build(tmp_path)`` and move the result into place atomically, then write the sidecar.

    ``build`` may return extra facts to record in the sidecar (e.g. the verified engine precision).
    """
    artifact.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{artifact.name}.", suffix=".tmp", dir=artifact.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        extra = build(tmp)
        os.chmod(tmp, file_mode())  # mkstemp makes 0600 files (the build may also have replaced it)
        sidecar_path(artifact).unlink(missing_ok=True)
        os.replace(tmp, artifact)
    finally:
        tmp.unlink(missing_ok=True)
    write_sidecar(artifact, key, extra)
    return artifact


def ensure_artifact(
    artifact: Path,
    key: Mapping[str, Any],
    build: Callable[[Path], Mapping[str, Any] | None],
    on_mismatch: str = "rebuild",
    what: str = "artifact",
) -> Path:
    """Return ``artifact`` valid for ``key``: build it when absent, rebuild or refuse it when stale/corrupt."""
    if not artifact.exists():
        log.info("building %s %s (not cached yet)", what, artifact)
        return build_artifact(artifact, key, build)
    problem = artifact_problem(artifact, key)
    if problem is None:
        log.info("using cached %s %s", what, artifact)
        return artifact
    return handle_bad_artifact(artifact, key, build, problem, on_mismatch, what)


def handle_bad_artifact(
    artifact: Path,
    key: Mapping[str, Any],
    build: Callable[[Path], Mapping[str, Any] | None],
    problem: str,
    on_mismatch: str,
    what: str,
) -> Path:
    """Rebuild (logging why) or refuse an artifact that cannot be used."""
    if on_mismatch == "error":
        raise ArtifactError(
            f"{what} {artifact} cannot be used: {problem}. Rebuild it (allinone-build-engine, or "
            "on_mismatch='rebuild') or delete it."
        )
    log.warning("rebuilding %s %s: %s", what, artifact, problem)
    return build_artifact(artifact, key, build)
