"""Folders a run writes into, proven writable before its checks start: else one line naming the folder (exit 4)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from .text import os_problem


def writable(folder: Path, what: str, how: str) -> None:
    """Make ``folder`` (``what`` it is for) and write a file in it, or stop the run: why not, and ``how`` to fix it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise pytest.UsageError(f"{what} {folder} cannot be written: {os_problem(error)} ({how})") from None
