"""The logs probe (smoke/probes/logs.py) on its own: the time prefixes it reads, how much of a file it reads, what a
missing or unreadable log gives, what a red line quotes, and the evidence mechanism (smoke/evidence.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from smoke.evidence import Evidence
from smoke.probes import log_signs, logs
from smoke.redact import Redactor


@pytest.mark.parametrize(("line", "seconds", "text", "level"), [
    # PM2's time: true (this host's local time), then cloudflared's own zerolog line
    ("2026-12-07T17:12:49: 2026-12-07T17:12:49Z ERR Request failed", "2026-12-07T17:12:49", "Request failed", "error"),
    ("2026-12-07T17:12:49Z WRN Your version is outdated", "2026-12-07T17:12:49+00:00", "Your version is outdated",
     "warn"),
    ('{"level":"error","ts":1796663569.5,"logger":"http.log.error","msg":"dial tcp 127.0.0.1:3000: connect: '
     'connection refused"}', 1796663569.5, "http.log.error dial tcp 127.0.0.1:3000: connect: connection refused",
     "error"),
    ('127.0.0.1 - - [07/Dec/2026:17:12:49 +0000] "POST /api/story/start HTTP/1.1" 500 108 "-" "node"',
     "2026-12-07T17:12:49+00:00", None, ""),
    ("Error creating story ticket: TypeError: x", None, "Error creating story ticket: TypeError: x", "error"),
    # Caddy's console access log (format console): ERROR for a 404 too, which is no failure of the proxy's
    ('2026/12/07 17:12:49.651\t\x1b[31mERROR\x1b[0m\thttp.log.access.log0\thandled request\t{"request": {"method": '
     '"GET", "host": "care2connects.org", "uri": "/"}, "status": 502}', "2026-12-07T17:12:49",
     "http.log.access.log0 handled request: GET care2connects.org/ -> 502", "error"),
    ('2026/12/07 17:12:49.651\tERROR\thttp.log.access.log0\thandled request\t{"request": {"method": "GET", "host": '
     '"[::1]:8080", "uri": "/"}, "status": 404}', "2026-12-07T17:12:49",
     "http.log.access.log0 handled request: GET [::1]:8080/ -> 404", ""),
    (" ✓ Ready in 2.3s", None, " ✓ Ready in 2.3s", ""),
])
def test_a_lines_time_text_and_level(line, seconds, text, level):
    stamp, said, found = logs.parse_line(line)
    expected = datetime.fromisoformat(seconds).timestamp() if isinstance(seconds, str) else seconds
    assert stamp == expected
    assert said == (line if text is None else text)
    assert found == level


def test_a_log_is_read_from_its_end_only(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"old line\n" * (logs.TAIL_BYTES // 9 + 1000) + b"last line\n")
    lines, note, modified = logs.tail(path)
    assert note == "" and modified == path.stat().st_mtime
    assert lines[-1] == "last line"
    assert sum(len(line) + 1 for line in lines) <= logs.TAIL_BYTES
    assert all(line in ("old line", "last line") for line in lines)  # the line cut by the tail's start is dropped


def test_a_missing_or_unreadable_log_is_a_note(tmp_path, monkeypatch):
    gone = logs.Source("backend", "careconnect-backend-prod", tmp_path / "gone.log")
    host = log_signs.HostLogs([gone], None, time.time())
    assert host.evidence("backend") == [f"backend log: {tmp_path / 'gone.log'} does not exist"]
    assert host.signs(time.time()) == {"tunnel": [], "ports": [], "processes": []}
    locked = tmp_path / "locked.log"
    locked.write_text("x\n")

    def refused(*_args, **_kwargs):  # a file this user may not read (root, as here, reads any: chmod cannot show it)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(logs, "open", refused, raising=False)
    assert logs.tail(locked)[1] == f"cannot read {locked}: Permission denied"


def test_only_the_runs_errors_are_quoted_newest_first_and_scrubbed(tmp_path):
    path = tmp_path / "backend-error.log"
    before = "Error: old trouble from yesterday\n    at boot (/srv/backend/src/server.ts:10:3)\n"
    path.write_text(before)
    marks = logs.mark([path])
    started = time.time()
    path.write_text(before + "Error: connect ECONNREFUSED postgres://care2:hunter22@db:5432/care2\n"
                    "    at Socket.x (/srv/backend/node_modules/pg/lib/client.js:1:1)\n"
                    "    at load (/srv/backend/src/db.ts:12:7)\nserver still up\n")
    source = logs.Source("backend", "careconnect-backend-prod", path, "/srv/backend")
    [quoted] = log_signs.HostLogs([source], marks, started, Redactor()).evidence("backend")
    assert quoted.startswith("backend log (careconnect-backend-prod, during this run): Error: connect ECONNREFUSED")
    assert quoted.endswith(" at src/db.ts:12")  # the app's own frame, not the library's
    assert "hunter22" not in quoted


def test_evidence_providers_are_asked_per_role_and_a_broken_one_costs_only_its_lines():
    def broken(role):
        raise OSError("disk gone")

    evidence = Evidence([lambda role: [f"{role} says hi"], broken])
    assert evidence.lines(["backend", "backend"]) == [
        "backend says hi", "backend: evidence could not be read (OSError: disk gone)"]
    assert Evidence().lines(["backend"]) == []


def test_memory_near_pm2s_limit_is_a_sign():
    app = type("App", (), {"name": "careconnect-backend-prod", "memory": 460 * 2**20, "max_memory": 500 * 2**20})
    [sign] = log_signs.memory_near_limit([], [app])
    assert sign.what.startswith("careconnect-backend-prod uses 460")
    assert "92% of its max_memory_restart" in sign.what


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset: POSIX only")
def test_the_time_shown_is_this_hosts_clock(monkeypatch):
    at = datetime(2026, 12, 7, 17, 12, 49, tzinfo=UTC).timestamp()
    monkeypatch.setenv("TZ", "EST+5")  # POSIX's form: five hours behind UTC
    time.tzset()
    try:
        assert log_signs.clock(at) == "12:12:49"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_crash_counts_for_care2s_apps_only():
    """PM2's own log holds every app of its daemon: a dev app's crash is not the demo's."""
    pm2_log = logs.Source("pm2", "PM2", Path("pm2.log"))
    crashed = [logs.Line(f"App [{name}:{n}] exited with code [1] via signal [SIGINT]", time.time(), "", pm2_log, True)
               for n, name in enumerate(["care2connect-backend-dev", "careconnect-backend-prod"])]
    [crash] = log_signs.crashes(crashed, {"careconnect-backend-prod", "careconnect-frontend-prod"})
    assert crash.what.startswith("careconnect-backend-prod crashed 1 time in the last hour")



@pytest.mark.parametrize("flag", [["--config", "Caddyfile"], ["--config=Caddyfile"]])
def test_the_proxys_config_is_found_in_either_spelling_of_its_flag(flag, tmp_path, monkeypatch):
    caddy = SimpleNamespace(cmdline=lambda: ["caddy", "run", *flag])
    monkeypatch.setattr(logs.psutil, "Process", lambda pid: caddy)
    assert logs.config_argument(SimpleNamespace(pid=4242, cwd=str(tmp_path))) == tmp_path / "Caddyfile"
