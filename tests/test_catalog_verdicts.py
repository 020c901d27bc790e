"""tools/catalog_verdicts.py: two runs of the same code compare equal, a changed word does not."""

from __future__ import annotations

import importlib.util
import json

from fixtures.stage import ROOT

spec = importlib.util.spec_from_file_location("catalog_verdicts", ROOT / "tools" / "catalog_verdicts.py")
catalog_verdicts = importlib.util.module_from_spec(spec)
spec.loader.exec_module(catalog_verdicts)

SAID = ("Ports: backend: port {be} is held by PID {pid} (python squatter.py rogue {be}), since {started}; "
        "GET http://localhost:{be}/health -> 503 in {ms} ms (connect 1 ms, first byte 2 ms); cf-ray {ray}; "
        "config {workdir}/cloudflared/config.yml; fix: kill {pid}")


def run(be: int, pid: int, workdir: str, ms: float, started: str, ray: str, words: str = SAID) -> tuple[dict, dict]:
    verdict = {"state": "NO-GO", "reason": "failed: Ports", "checks": {"test_port_drift": {
        "state": "failed", "message": words.format(be=be, pid=pid, workdir=workdir, ms=ms, started=started, ray=ray),
        "fixes": [{"wait": {"port": be}, "steps": [{"pid": pid, "created": 1796674221.39}]}]}}}
    return verdict, {workdir: "<stage>", str(be): "<port:backend>", str(pid): "<pid:rogue>"}


def test_two_runs_of_the_same_code_normalise_alike_and_name_the_stage_s_ports_and_pids():
    """Pid 503 is named where a pid is said, and HTTP 503 stays."""
    first = catalog_verdicts.normalised(*run(41235, 90123, "/tmp/care2-verdicts-ab/stage", 12.5,
                                             "2026-12-07 20:01:19", "8f2a1b3c4d5e6f70-LHR"))
    second = catalog_verdicts.normalised(*run(50007, 503, "/tmp/care2-verdicts-xy/stage", 9,  # pids wrap around
                                              "2026-12-07 20:09:02", "0123456789abcdef"))
    assert first == second
    message = json.loads(first)["checks"]["test_port_drift"]["message"]
    assert message == ("Ports: backend: port <port:backend> is held by PID <pid:rogue> (python squatter.py rogue "
                       "<port:backend>), since <time>; GET http://localhost:<port:backend>/health -> 503 in <duration> "
                       "(first byte <duration>); cf-ray <cf-ray>; config <stage>/cloudflared/config.yml; "
                       "fix: kill <pid:rogue>")


def test_compare_says_identical_or_shows_the_changed_line(tmp_path, capsys):
    said = ("2026-12-07 20:01:19", "8f2a1b3c4d5e6f70")
    for folder, words in (("a", SAID), ("b", SAID), ("c", SAID.replace("503", "502"))):
        (tmp_path / folder).mkdir()
        catalog_verdicts.write(tmp_path / folder / "rogue-local.json", *run(41235, 90123, "/w", 1, *said, words),
                               "rogue-local")
    capsys.readouterr()
    assert catalog_verdicts.compare_dirs(tmp_path / "a", tmp_path / "b") == 0
    assert "rogue-local.json: identical" in capsys.readouterr().out
    assert catalog_verdicts.compare_dirs(tmp_path / "a", tmp_path / "c") == 1
    shown = capsys.readouterr().out
    assert "-   \"message\": \"Ports: backend:" in shown and "-> 502 in <duration>" in shown, shown
