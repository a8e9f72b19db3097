"""The one check of a device string, used by every config that names a device.

Accepted: ``'cpu'``, ``'cuda'`` (the current CUDA device) and ``'cuda:N'`` (``N`` a device index);
``'auto'`` only where the caller allows it (training: this rank's GPU when there is one, else the
CPU). Whether the device exists on this machine is checked where it is used
(:func:`allinone_ros.backends.factory.check_device`, the node's configure checks).
"""
from __future__ import annotations

DEVICES_HELP = "'cpu', 'cuda', 'cuda:N'"


def validate_device(device: object, *, allow_auto: bool = False, name: str = "device") -> str:
    """``device`` itself if it is a valid device string; else ValueError naming ``name`` and the value."""
    valid = isinstance(device, str) and (
        device in ("cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
        or (allow_auto and device == "auto"))
    if not valid:
        allowed = ("'auto', " if allow_auto else "") + DEVICES_HELP
        raise ValueError(f"{name} must be one of {allowed}, got {device!r}")
    return device  # type: ignore[return-value]


def cuda_index(device: str) -> int | None:
    """The CUDA device index of a valid device string: N for 'cuda:N', 0 for 'cuda', None for the CPU."""
    if device == "cuda":
        return 0
    return int(device[5:]) if device.startswith("cuda:") else None


def check_same_device(**devices: str) -> None:
    """ValueError unless every named device (e.g. ``tracker=..., backend=...``) is the same string."""
    if len(set(devices.values())) > 1:
        named = ", ".join(f"{k} {v!r}" for k, v in devices.items())
        raise ValueError(f"devices differ ({named}); use the same device for all of them")
