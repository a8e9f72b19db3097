"""A worker thread that processes only the newest input, plus a small stamped history.

Plain Python (no ROS import). The ROS callbacks only hand items over (``submit_frame``,
``submit_command``) and return at once; inference runs here, so the executor is never
blocked.

* One-slot mailbox: a frame that arrives while another is still waiting replaces it; the
  replaced frame is *dropped* and counted. The worker always takes the newest frame.
* Commands are queued (none is lost) and applied by the worker before the next frame, so a
  command never changes the tracker in the middle of a frame.
* ``min_period_s`` (a callable, read per frame) throttles processing: the next frame is taken
  no earlier than ``min_period_s`` after the previous one started; frames arriving in between
  replace each other in the mailbox (and count as dropped).
* An exception in a handler is reported through ``on_error`` and the loop goes on.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Generic, TypeVar

F = TypeVar("F")
C = TypeVar("C")
T = TypeVar("T")


class InferenceWorker(Generic[F, C]):
    def __init__(
        self,
        process_frame: Callable[[F], None],
        apply_command: Callable[[C], None],
        min_period_s: Callable[[], float] = lambda: 0.0,
        on_error: Callable[[str, BaseException], None] = lambda where, exc: None,
        name: str = "inference",
    ) -> None:
        self._process_frame = process_frame
        self._apply_command = apply_command
        self._min_period_s = min_period_s
        self._on_error = on_error
        self._cond = threading.Condition()
        self._frame: F | None = None
        self._commands: deque[C] = deque()
        self._stopping = False
        self._next_due = 0.0
        self._dropped = 0
        self._submitted = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- producer side (any thread) -----------------------------------------------------------
    def submit_frame(self, frame: F) -> bool:
        """Put ``frame`` in the mailbox; return True if it replaced (dropped) a waiting frame."""
        with self._cond:
            replaced = self._frame is not None
            if replaced:
                self._dropped += 1
            self._frame = frame
            self._submitted += 1
            self._cond.notify()
        return replaced

    def submit_command(self, command: C) -> None:
        with self._cond:
            self._commands.append(command)
            self._cond.notify()

    @property
    def dropped(self) -> int:
        """Frames replaced in the mailbox before the worker took them."""
        with self._cond:
            return self._dropped

    @property
    def submitted(self) -> int:
        with self._cond:
            return self._submitted

    # -- life ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the loop to end after the current item; return True if the thread ended in time."""
        with self._cond:
            self._stopping = True
            self._frame = None
            self._cond.notify()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- worker thread ------------------------------------------------------------------------
    def _take(self) -> tuple[list[C], F | None] | None:
        """Block until there is a command or a due frame; None = stop."""
        with self._cond:
            while not self._stopping:
                if self._commands:
                    break
                if self._frame is not None:
                    wait_s = self._next_due - time.monotonic()
                    if wait_s <= 0:
                        break
                    self._cond.wait(wait_s)
                else:
                    self._cond.wait()
            if self._stopping:
                return None
            commands = list(self._commands)
            self._commands.clear()
            frame = None
            if self._frame is not None and time.monotonic() >= self._next_due:
                frame, self._frame = self._frame, None
            return commands, frame

    def _run(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            commands, frame = taken
            for command in commands:
                try:
                    self._apply_command(command)
                except Exception as exc:  # noqa: BLE001 - reported, the loop must survive
                    self._on_error("command", exc)
            if frame is not None:
                started = time.monotonic()
                try:
                    self._next_due = started + max(0.0, float(self._min_period_s()))
                    self._process_frame(frame)
                except Exception as exc:  # noqa: BLE001
                    self._on_error("frame", exc)


class StampedHistory(Generic[T]):
    """The last ``size`` items keyed by an integer stamp (thread-safe)."""

    def __init__(self, size: int) -> None:
        self._items: deque[tuple[int, T]] = deque(maxlen=max(size, 0) or None)
        self._enabled = size > 0
        self._lock = threading.Lock()

    def add(self, stamp_ns: int, item: T) -> None:
        if not self._enabled:
            return
        with self._lock:
            self._items.append((stamp_ns, item))

    def find(self, stamp_ns: int) -> T | None:
        with self._lock:
            for stamp, item in reversed(self._items):
                if stamp == stamp_ns:
                    return item
        return None

    def newest_stamp(self) -> int | None:
        with self._lock:
            return self._items[-1][0] if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
