"""The tracker node's log plumbing: warnings throttled per kind of problem, and the library's Python
log records forwarded to the node's ROS logger."""
from __future__ import annotations

import logging
import re
from collections import OrderedDict

import rclpy.logging
from rclpy.impl.rcutils_logger import RcutilsLogger

THROTTLE_S = 2.0


class ThrottledWarnings:
    """Throttled warnings, throttled per kind of problem rather than per call site.

    rclpy throttles per logger object and call site, so one helper would let one kind of bad
    input hide another. Each distinct message shape (digits masked) gets its own logger object
    with the node's logger name; the most recent 64 shapes are kept.
    """

    def __init__(self, logger_name: str, period_s: float = THROTTLE_S, max_kinds: int = 64) -> None:
        self._name, self._period, self._max = logger_name, period_s, max_kinds
        self._loggers: OrderedDict[str, RcutilsLogger] = OrderedDict()

    def warn(self, message: str) -> None:
        key = re.sub(r"\d+", "#", message)[:160]
        logger = self._loggers.get(key)
        if logger is None:
            logger = self._loggers[key] = rclpy.logging.get_logger(self._name)
            while len(self._loggers) > self._max:
                self._loggers.popitem(last=False)
        else:
            self._loggers.move_to_end(key)
        logger.warning(message, throttle_duration_sec=self._period)


class RosLogHandler(logging.Handler):
    """Forward the library's Python log records (``allinone_ros.*``) to the node's ROS logger."""

    def __init__(self, logger: RcutilsLogger) -> None:
        super().__init__(logging.INFO)
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"[{record.name}] {record.getMessage()}"
            if record.levelno >= logging.ERROR:
                self._logger.error(text)
            elif record.levelno >= logging.WARNING:
                self._logger.warning(text)
            else:
                self._logger.info(text)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)
