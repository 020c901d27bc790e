"""Next's build facts (smoke/probes/build.py) read from a build folder: the real app's routes manifest, the other shape
Next writes, and builds that cannot be read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from smoke.probes import build

REAL_MANIFEST = Path(__file__).resolve().parents[1] / "fixtures" / "next" / "routes-manifest.json"
PROBE = "/api/c2c-smoke-rewrite-probe"


def built(folder: Path, manifest: str | None, build_id: str = "G8Eeowanj38eOFCvROaVQ") -> str:
    dist = folder / ".next"
    dist.mkdir(parents=True)
    (dist / "BUILD_ID").write_text(build_id)
    os.utime(dist / "BUILD_ID", (1796664879, 1796664879))
    if manifest is not None:
        (dist / "routes-manifest.json").write_text(manifest)
    return str(folder)


def test_the_real_apps_build_is_read(tmp_path):
    folder = built(tmp_path / "frontend", REAL_MANIFEST.read_text())
    found = build.read(folder)
    assert (found.build_id, found.built) == ("G8Eeowanj38eOFCvROaVQ", 1796664879)
    rewrite = found.rewrite_for(PROBE)
    assert (rewrite.prefix, rewrite.base, rewrite.port) == ("/api", "http://localhost:3001/api", 3001)
    assert found.rewrite_for("/tell-your-story") is None and found.rewrite_for("/apiary") is None
    assert build.built_rewrite(folder, PROBE, [3001]).sentence.endswith("), where the backend listens")
    elsewhere = build.built_rewrite(folder, PROBE, [3002])
    assert elsewhere.elsewhere and elsewhere.sentence.startswith(
        f"the frontend in {folder} was built with /api → http://localhost:3001/api "
        "(build G8Eeowanj38eOFCvROaVQ, built ")
    assert elsewhere.sentence.endswith(", while the backend listens on 3002")
    assert not build.built_rewrite(folder, PROBE, []).elsewhere  # nothing listens: no port to compare with


def test_the_three_phases_of_rewrites_are_read_in_nexts_order(tmp_path):
    rule = {"source": "/api/:path*", "regex": "^/api(?:/(.*))?$"}
    manifest = {"rewrites": {"beforeFiles": [], "afterFiles": [{**rule, "destination": "http://127.0.0.1:4000/:path*"}],
                             "fallback": [{**rule, "destination": "http://127.0.0.1:5000/:path*"}]}}
    rewrite = build.read(built(tmp_path, json.dumps(manifest))).rewrite_for(PROBE)
    assert (rewrite.base, rewrite.port) == ("http://127.0.0.1:4000", 4000)


@pytest.mark.parametrize("manifest, says", [
    (None, "routes-manifest.json: No such file or directory"),
    ("<html>", "routes-manifest.json: not the JSON Next writes"),
    ("[]", "routes-manifest.json: not the JSON Next writes"),
    (" " * (build.MANIFEST_LIMIT + 1), "over 1024 KB, not a routes manifest"),
])
def test_a_build_whose_manifest_cannot_be_read_is_one_line(tmp_path, manifest, says):
    folder = built(tmp_path, manifest)
    with pytest.raises(build.BuildUnreadable, match=says):
        build.read(folder)
    assert says in build.built_rewrite(folder, PROBE, [3001]).sentence


def test_a_folder_without_a_build(tmp_path):
    assert build.read(str(tmp_path)) is None
    assert build.built_rewrite(str(tmp_path), PROBE, [3001]).sentence == \
        f"no Next build in {tmp_path} (.next/BUILD_ID is missing or unreadable)"
    assert "cannot be read here" in build.built_rewrite(None, PROBE, [3001]).sentence


def test_a_rewrite_to_another_host_is_told_not_judged_against_this_hosts_backend(tmp_path):
    """https://api.care2connects.org counts as port 443, never one the local backend listens on: where it points
    is said, not called wrong (check 5 then gives no "rebuild the frontend" fix)."""
    rule = {"source": "/api/:path*", "regex": "^/api(?:/(.*))?$", "destination": "https://api.care2connects.org/:path*"}
    folder = built(tmp_path, json.dumps({"rewrites": [rule]}))
    told = build.built_rewrite(folder, PROBE, [3001])
    assert not told.elsewhere
    assert told.sentence.startswith(f"the frontend in {folder} was built with /api → https://api.care2connects.org (")
    assert told.sentence.endswith("): another host, not checked from here")
