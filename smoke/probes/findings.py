"""What a probe's judgement found, in the presenter's words: plain data the checks turn into red, yellow or a note."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A failure, a warning, or a note for the check's result line; ``fix`` says what to do."""

    severity: str  # "fail", "warn" or "note"
    what: str
    fix: str = ""
