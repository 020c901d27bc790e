"""Whether this runs in CI: GitHub Actions, or any CI that sets CI (true or 1, as most do)."""

from __future__ import annotations

import os
from collections.abc import Mapping


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true" or environ.get("CI", "").lower() in ("true", "1")
