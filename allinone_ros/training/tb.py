"""TensorBoard scalars (``torch.utils.tensorboard``), imported only when logging is enabled."""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class ScalarLogger:
    """Writes scalars to ``log_dir``; a no-op when disabled (non-zero ranks, ``run.tensorboard: false``)."""

    def __init__(self, log_dir: Path, enabled: bool = True) -> None:
        self._writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise RuntimeError(
                "TensorBoard logging needs the 'tensorboard' package (pip install tensorboard), "
                "or set run.tensorboard: false"
            ) from exc
        log_dir.mkdir(parents=True, exist_ok=True)
        self._writer = SummaryWriter(log_dir=str(log_dir))
        log.info("TensorBoard logs in %s", log_dir)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self._writer is None:
            return
        for name, value in values.items():
            self._writer.add_scalar(name, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
