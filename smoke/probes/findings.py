"""What a probe's judgement found, in the presenter's words: plain data the checks turn into red, yellow or a note.

Each finding knows the line of the suite's code that made it (``judged_at``): the report names it under a red
line, so that whoever takes a red line to the code opens one file, whichever probe judged.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

SUITE = Path(__file__).resolve().parents[2]  # the folder that holds smoke/, in a checkout or in site-packages


def code_line(frame: FrameType, line: int | None = None) -> str:
    """The line ``frame`` runs (or ran: ``line``, a traceback's), as the report names it:
    'smoke/probes/pm2.py:80 (judge)'."""
    named = frame
    while named.f_code.co_name.startswith("<") and named.f_back is not None:  # a comprehension: its function's name
        named = named.f_back
    path = Path(frame.f_code.co_filename).resolve()
    shown = path.relative_to(SUITE).as_posix() if path.is_relative_to(SUITE) else path.name
    return f"{shown}:{line or frame.f_lineno} ({named.f_code.co_name})"


def made_at() -> str:
    """A dataclass field's default: the line of code that made the instance (``field(default_factory=made_at)``)."""
    return code_line(sys._getframe(2))  # 0 is this function, 1 the dataclass's __init__, 2 the code that made it


@dataclass(frozen=True)
class Finding:
    """A failure, a warning, or a note for the check's result line; ``fix`` says what to do.

    >>> def judge():
    ...     return Finding("fail", "the backend is stopped")
    >>> judge().judged_at.rpartition(":")[2]
    '2 (judge)'
    """

    severity: str  # "fail", "warn" or "note"
    what: str
    fix: str = ""
    judged_at: str = field(default_factory=made_at, compare=False, repr=False)
