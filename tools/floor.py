"""The floor under the HTTP checks: a bare script making the requests they made, and nothing else.

    .venv/bin/python tools/floor.py REQUESTS   # a file of "METHOD URL" lines

No pytest, no report, no judgement, no retry: Python, httpx and each request once, one after the other.
tools/benchmark.py takes the list from the report of the suite's run just before (every request a check
made is listed there), so that the floor asks what the suite asked, refused addresses included.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx


def main(requests: Path) -> int:
    with httpx.Client(timeout=5.0) as client:
        for line in requests.read_text(encoding="utf-8").splitlines():
            method, url = line.split(" ", 1)
            try:
                client.request(method, url)
            except httpx.TransportError:
                pass  # refused or timed out, as it was for the suite: its cost counts
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
