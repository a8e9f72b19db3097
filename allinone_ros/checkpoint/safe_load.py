"""Read torch pickles without running foreign code.

Trainer checkpoints carry objects of classes from the authors' code base (e.g.
``lib.train.admin.stats.AverageMeter``) that ``torch.load(weights_only=True)`` refuses. We list
the globals the pickle names, map each to an inert placeholder class and load with
``weights_only=True``: the placeholder only records its arguments, so nothing foreign is imported
or executed. Globals from modules that can run code (``os.system``, ``builtins.eval``, ...) are
refused outright, since a file naming them is not a trainer checkpoint.
"""
from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, UnsafeCheckpointError

log = logging.getLogger(__name__)

# Modules whose callables execute code, touch the system or import more code.
_DANGEROUS_MODULES = {
    "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "importlib",
    "runpy", "socket", "pty", "code", "codeop", "ctypes", "pickle", "_pickle", "marshal", "types",
    "functools", "operator", "webbrowser", "multiprocessing", "threading", "signal", "io", "pathlib",
    "tempfile", "urllib", "http", "requests", "torch.hub", "timeit", "pdb", "commands", "platform",
}


class InertObject:
    """Stand-in for a class we will not import: keeps constructor args and state, does nothing."""

    _qualified_name = "InertObject"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<inert {self._qualified_name}>"


def _placeholder(qualified_name: str) -> type:
    return type(f"Inert_{qualified_name.replace('.', '_')}", (InertObject,), {"_qualified_name": qualified_name})


def _is_dangerous(qualified_name: str) -> bool:
    parts = qualified_name.split(".")
    return any(".".join(parts[:i]) in _DANGEROUS_MODULES for i in range(1, len(parts)))


def _wrap_read_error(path: Path, exc: BaseException) -> CheckpointError:
    return CheckpointError(f"{path}: cannot read checkpoint ({type(exc).__name__}: {exc}); is the file complete?")


def load_pickle_checkpoint(path: str | Path, trust: bool = False) -> Any:
    """Load a ``torch.save`` file. ``trust=True`` allows full unpickling (runs code in the file)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if trust:
        log.warning("loading %s with full unpickling (--trust-checkpoint): code in the file may run", path)
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - report any unpickling failure the same way
            raise _wrap_read_error(path, exc) from exc
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception as exc:  # noqa: BLE001 - truncated zip, legacy format, not a torch file...
        raise _wrap_read_error(path, exc) from exc
    dangerous = sorted(n for n in names if _is_dangerous(n))
    if dangerous:
        raise UnsafeCheckpointError(
            f"{path}: the pickle references {dangerous}, which would run code when unpickled; refusing. "
            "Load it only if you trust its source (--trust-checkpoint)."
        )
    if names:
        log.info("%s: mapping foreign globals to inert placeholders: %s", path, names)
    placeholders = [(_placeholder(n), n) for n in names]
    try:
        with torch.serialization.safe_globals(placeholders):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _wrap_read_error(path, exc) from exc
