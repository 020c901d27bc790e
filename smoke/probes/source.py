"""Where in the app's checkout a literal the suite saw is written: the file and line to change for a code defect.

A plain walk over the source files (no git, no grep: the demo host is Windows), skipping what is built or fetched.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCE_SUFFIXES = {".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".json", ".env", ".toml", ".yml", ".yaml"}
SKIPPED = {"node_modules", ".next", ".git", "dist", "build", "out", "coverage", "archives", "snapshots", "logs",
           "data", "v1-frontend", "v1-backend"}
MAX_BYTES = 512_000  # a bigger file is a bundle or data, not what a person edits
MAX_PLACES = 5


def places(checkout: str | os.PathLike, literal: str, prefer: tuple[str, ...] = ()) -> list[str]:
    """``path:line`` (relative to the checkout) of each line holding ``literal``, the first MAX_PLACES: those whose
    path holds the first of ``prefer`` first, then the second's..., tests last."""
    root = Path(checkout)
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED)
        for name in sorted(files):
            path = Path(folder, name)
            if path.suffix not in SOURCE_SUFFIXES and not name.startswith(".env"):
                continue
            try:
                if path.stat().st_size > MAX_BYTES:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if literal not in text:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if literal in line:
                    found.append(f"{path.relative_to(root).as_posix()}:{number}")
    def rank(place: str) -> tuple[int, bool, str]:
        near = next((index for index, word in enumerate(prefer) if word in place), len(prefer))
        return near, "test" in place.lower(), place

    found.sort(key=rank)
    return found[:MAX_PLACES]
