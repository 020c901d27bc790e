"""Run history: every run appends a line; a check red in the last hour warns now; the report's strip."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from smoke import arguments, history
from smoke.history import Entry
from smoke.verdict import Outcome, Verdict
from tests.conftest import ROOT

T0 = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)
ABOUT = {"environment": "local", "site_url": "http://localhost:3000", "api_url": "http://localhost:3001"}


def entry(minutes: float, state: str = "GO", red: tuple[str, ...] = (), about=ABOUT) -> Entry:
    outcomes = [Outcome(f"n{n}", n, "failed" if n in red else "passed", message=f"{n}: broke", name=n)
                for n in ("API health", "Database")]
    return Entry.of(Verdict(state, "", outcomes), about, T0 + timedelta(minutes=minutes))


def test_a_run_is_one_line_with_each_checks_state():
    line = entry(0, "NO-GO", red=("Database",))
    assert line.checks == {"API health": ("passed", ""), "Database": ("failed", "Database: broke")}
    assert line.red("Database") and not line.red("API health")


def test_ports_two_checks_one_line_red_when_either_is():
    outcomes = [Outcome("a", "a", "passed", name="Ports"), Outcome("b", "b", "failed", message="dual", name="Ports")]
    assert Entry.of(Verdict("NO-GO", "", outcomes), ABOUT, T0).checks == {"Ports": ("failed", "dual")}


def test_history_is_bounded_in_age_and_length(tmp_path):
    path = tmp_path / history.FILE_NAME
    for minute in range(10):
        history.append(path, entry(minute), max_age=3600, max_runs=4)
    assert [e.when.minute for e in history.read(path)] == [11, 12, 13, 14]
    history.append(path, entry(200), max_age=3600, max_runs=4)  # the others are over an hour older
    assert [e.when for e in history.read(path)] == [T0 + timedelta(minutes=200)]


def test_a_cut_off_line_is_skipped_and_secrets_are_scrubbed(tmp_path):
    path = tmp_path / history.FILE_NAME
    path.write_text('{"time": "2026-12-03T13:00:00+00:00", "environm\n', encoding="utf-8")
    history.append(path, entry(1, "NO-GO", red=("Database",)), 3600, 10, scrub=lambda t: t.replace("broke", "***"))
    (only,) = history.read(path)
    assert only.checks["Database"] == ("failed", "Database: ***")


def test_flapped_names_the_times_a_check_was_red_in_the_window_for_this_target():
    runs = [entry(-70, "NO-GO", ("Database",)), entry(-30, "NO-GO", ("Database",)), entry(-15, "NO-GO", ("Database",)),
            entry(-10, "NO-GO", ("API health",), about={**ABOUT, "site_url": "http://localhost:4000"})]
    now = entry(0)
    recent = history.earlier(runs, now, window=3600)
    assert len(recent) == 2  # over an hour ago, and another target's run, do not count
    clock = [e.clock for e in recent]
    assert history.flapped("Database", recent) == f"flapped: red at {clock[0]} and {clock[1]} (green now; watch it)"
    assert history.flapped("API health", recent) == ""


def test_a_line_red_now_gets_no_flapped_warning_from_its_other_check():
    """Ports has two checks: port drift red then and now, dual stack green then and now (the real app)."""
    def ports(drift: str) -> list[Outcome]:
        return [Outcome("drift", "drift", drift, message="proxy: nothing listens", name="Ports"),
                Outcome("dual", "dual", "passed", name="Ports"), Outcome("db", "db", "passed", name="Database")]

    before = [Entry.of(Verdict("NO-GO", "", ports("failed")), ABOUT, T0)]
    now = ports("failed")
    history.mark_flapped(now, before)
    assert [outcome.warnings for outcome in now] == [[], [], []]
    recovered = ports("passed")
    history.mark_flapped(recovered, before)  # the whole line green now: one warning for the line
    assert [len(outcome.warnings) for outcome in recovered] == [1, 0, 0]


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("90", 90), ("1.5m", 90)])
def test_watch_durations(text, seconds):
    assert arguments.duration(text, "--every") == seconds


def test_watch_bad_input_is_one_line():
    now = datetime(2026, 12, 3, 13, 0).astimezone()
    with pytest.raises(arguments.BadInput, match="say how long as 30s, 5m or 1h"):
        arguments.parse(["watch", "--every", "soon"], now)
    with pytest.raises(arguments.BadInput, match="HH:MM"):
        arguments.parse(["watch", "--until=25:99"], now)
    with pytest.raises(arguments.BadInput, match="whole number"):
        arguments.parse(["watch", "--runs", "0"], now)
    plan = arguments.parse(["watch", "--until", "12:30", "--runs=3", "-m", "predemo and not browser", "-q"], now)
    assert plan.until == now.replace(hour=12, minute=30) + timedelta(days=1)  # passed today: tomorrow's
    assert plan.runs == 3 and plan.for_pytest() == ["-m", "predemo and not browser", "-q"]


def test_entries_round_trip_as_json(tmp_path):
    path = tmp_path / history.FILE_NAME
    history.append(path, entry(0, "NO-GO", ("API health",)), 3600, 10)
    assert json.loads(path.read_text(encoding="utf-8"))["checks"]["API health"] == ["failed", "API health: broke"]
    assert history.read(path) == [entry(0, "NO-GO", ("API health",))]


def test_the_history_page_shows_each_targets_runs(tmp_path):
    path, out = tmp_path / history.FILE_NAME, tmp_path / "history.html"
    for minute, red in ((0, ()), (5, ("Database",)), (10, ())):
        history.append(path, entry(minute, "NO-GO" if red else "GO", red), 3600, 10)
    assert history.main([str(path), str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "3 runs" in page and page.count("c2-cell c2-cell-fail") == 1 + 1  # the check's cell and the verdict's
    assert "Database failed: Database: broke" in page and "<script" not in page


def test_a_watch_with_arguments_pytest_refuses_ends_at_once(tmp_path):
    """Exit 4 and one line, not a loop of runs that break the same way (nor an older run's verdict)."""
    (tmp_path / "verdict.json").write_text("{}", encoding="utf-8")  # an earlier run's: not this one's
    done = subprocess.run([sys.executable, "-m", "smoke.cli", "watch", "--every", "0s", "--runs", "3",
                           f"--reports-dir={tmp_path}", "-m", "no_such_marker"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stdout.count("\n") == 1 and "select no check (exit code 5)" in done.stdout, done.stdout
