"""The floor under the HTTP checks: a bare script making the requests they make, and nothing else.

    .venv/bin/python tools/floor.py SITE_URL API_URL

No pytest, no report, no judgement: Python, httpx and the same requests one after the other (home page,
its static assets, Tell Your Story, the API's health, database and status, the rewrite and /papi probes,
the CORS preflight). tools/benchmark.py times it beside the suite's HTTP-only set, in the same run.
"""

from __future__ import annotations

import re
import sys

import httpx

ASSET = re.compile(r"""(?:src|href)="(/_next/static/[^"]+)\"""")


def main(site: str, api: str) -> int:
    with httpx.Client(timeout=5.0) as client:
        home = client.get(site + "/")
        for path in dict.fromkeys(ASSET.findall(home.text)):
            client.get(site + path)
        client.get(site + "/tell-your-story")
        for path in ("/health/live", "/health/db", "/health/status"):
            client.get(api + path)
        client.get(site + "/api/c2c-smoke-rewrite-probe")
        client.get(site + "/papi/sessions?limit=1")
        client.options(api + "/api/story/start",
                       headers={"Origin": site, "Access-Control-Request-Method": "POST"})
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
