"""How the suite writes times, sizes and long texts: one way in the terminal, the report and every message."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """``250 ms``, ``4.2 s``, ``42 s``, ``3 min 5 s``, ``2 h 10 min``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def size(count: int) -> str:
    """Bytes as people read them: ``512 b``, ``37.5 MB``."""
    return f"{count} b" if count < 1024 * 1024 else f"{count / (1024 * 1024):.1f} MB"


def clip(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters long, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int = 160) -> str:
    """``text`` with its whitespace runs (newlines too) made single spaces, then clipped."""
    return clip(" ".join(text.split()), limit)


def os_problem(error: OSError) -> str:
    """An OSError as one line: the path, then the problem (``/x/reports: Permission denied``)."""
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{error.strerror or error}"
