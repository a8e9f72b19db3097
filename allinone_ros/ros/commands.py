"""Operator commands: checks and parsing of ``track_command`` strings and ``track_request`` fields.

Plain Python (no ROS import): the node passes the message fields in.

Sentences are checked, never silently altered beyond whitespace normalisation:

* longer than ``max_chars`` characters -> rejected (:class:`CommandError` stating the length and
  the limit); nothing is truncated here. An accepted sentence longer than the model's token
  limit (40 tokens) is used up to that limit; the core tokenizer logs a warning saying so.
* control characters (other than tab/newline/carriage return) or U+FFFD -> rejected. rclpy
  decodes invalid UTF-8 in a ``string`` field to U+FFFD, so binary garbage lands here.
* tabs/newlines and runs of spaces become single spaces; leading/trailing whitespace is removed.
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from ..tracker.preprocess import MIN_BOX_SIDE_PX

STOP_WORDS = ("stop", "cancel")


class CommandError(ValueError):
    """A command or request is unusable; the message says why (and is safe to log)."""


@dataclass(frozen=True)
class Start:
    """Start (or restart) tracking.

    ``box_xywh`` None = sentence only (wait for a box, or re-target a running track).
    ``stamp_ns`` names the image the box was drawn on (None = the next image).
    """

    sentence: str
    box_xywh: tuple[float, float, float, float] | None = None
    stamp_ns: int | None = None

    def describe(self) -> str:
        parts = [f"sentence {self.sentence!r}"]
        if self.box_xywh is not None:
            parts.append(f"box {list(self.box_xywh)}")
            parts.append(f"on the image stamped {self.stamp_ns / 1e9:.9f}" if self.stamp_ns is not None
                         else "on the next image")
        return "start: " + ", ".join(parts)


@dataclass(frozen=True)
class Stop:
    """Return to idle."""

    source: str

    def describe(self) -> str:
        return "stop"


Command = Start | Stop


def _describe_char(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def check_sentence(text: str, max_chars: int, field: str = "sentence") -> str:
    """Return the normalised sentence or raise :class:`CommandError` naming the problem."""
    if not isinstance(text, str):
        raise CommandError(f"{field} must be text, got {type(text).__name__}")
    if len(text) > max_chars:
        raise CommandError(
            f"{field} of {len(text)} characters exceeds max_sentence_chars={max_chars}; rejected, not truncated"
        )
    for index, ch in enumerate(text):
        if ch in "\t\n\r":
            continue
        category = unicodedata.category(ch)
        if ch == "\ufffd" or category in ("Cc", "Cs"):
            what = "invalid UTF-8 (decoded as U+FFFD)" if ch == "\ufffd" else f"control character {_describe_char(ch)}"
            raise CommandError(f"{field} contains {what} at index {index} (length {len(text)}); rejected")
    return " ".join(text.split())


def parse_command_text(text: str, max_chars: int) -> Command:
    """``track_command`` (std_msgs/String): ``stop``/``cancel`` (any case, trimmed) or a sentence."""
    sentence = check_sentence(text, max_chars, field="track_command")
    if not sentence:
        raise CommandError("track_command is empty; send a sentence describing the target, or 'stop'")
    if sentence.lower() in STOP_WORDS:
        return Stop(source=f"track_command {sentence!r}")
    return Start(sentence=sentence)


def parse_track_request(
    sentence: str, has_box: bool, x: float, y: float, width: float, height: float,
    stamp_sec: int, stamp_nanosec: int, max_chars: int,
) -> Command:
    """``track_request`` (allinone_ros/TrackRequest) fields -> command.

    Boxes are checked for finiteness and positive size here; whether they overlap the image
    is checked against the image they are applied to (by the tracker core).
    """
    text = check_sentence(sentence, max_chars, field="track_request sentence")
    if not has_box:
        if not text:
            return Stop(source="track_request with no box and no sentence")
        return Start(sentence=text)
    box = (float(x), float(y), float(width), float(height))
    if not all(math.isfinite(v) for v in box):
        raise CommandError(f"track_request box has non-finite values x,y,w,h={box}; rejected")
    if not (box[2] >= MIN_BOX_SIDE_PX and box[3] >= MIN_BOX_SIDE_PX):
        raise CommandError(f"track_request box needs width and height >= {MIN_BOX_SIDE_PX:g} px, "
                           f"got w={box[2]}, h={box[3]}; rejected")
    if stamp_sec < 0:
        raise CommandError(f"track_request stamp is negative (sec={stamp_sec}); rejected")
    stamp_ns = stamp_sec * 1_000_000_000 + stamp_nanosec
    return Start(sentence=text, box_xywh=box, stamp_ns=stamp_ns or None)
