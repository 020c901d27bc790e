"""Run history: every run appends a line; a check red in the last hour warns now; the report's strip."""

import doctest
import html
import json
import re
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from fixtures import history as made_up
from smoke import arguments, charts, history
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


def cards(page: str) -> dict[str, str]:
    """Each card of the page by its check's name."""
    return {re.search(r"<h4>(.*?)</h4>", card).group(1): card for card in page.split('<article class="h-card">')[1:]}


def uptime_figures(card: str) -> list[str]:
    return re.findall(r"<dd>(.*?)</dd>", card)


def test_a_weeks_page_shows_uptime_response_times_against_the_budget_and_the_incidents(tmp_path):
    path, out = tmp_path / history.FILE_NAME, tmp_path / "history.html"
    path.write_text("".join(json.dumps(asdict(run)) + "\n" for run in made_up.week()), encoding="utf-8")
    assert history.main([str(path), str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    shown = cards(page)
    # uptime over the last 24 h, 7 days and all: the slow stretch was 4 of the last 25 runs; the database
    # was down in 2 runs; the run that could not check counts for no check and not for the verdict
    assert uptime_figures(shown["API health"]) == ["84 %", "97.6 %", "97.6 %"]
    assert uptime_figures(shown["Database"]) == ["100 %", "98.8 %", "98.8 %"]
    assert uptime_figures(shown[history.DEMO]) == ["84 %", "96.4 %", "96.4 %"]  # 161 of 167 runs that judged
    assert 'title="161 of 167 runs"' in shown[history.DEMO]
    # the incidents, newest first: from the first NO-GO to the next GO, with the first red line
    listed = re.findall(r"<li[^>]*><b>(.*?)</b>, <span class=\"h-lasted\">(.*?)</span>: <span class=\"h-checks\">"
                           r"(.*?)</span>\n<div class=\"h-message\">(.*?)</div>", page)
    assert [tuple(html.unescape(text) for text in incident) for incident in listed] == [
        ("Sun 06 Dec 02:30 to Sun 06:30", "4 h 0 min", "API health", "API health time: expected <= 2 s, got 2.5 s"),
        ("Wed 02 Dec 10:30 to Wed 12:30", "2 h 0 min", "Database", made_up.DATABASE_MESSAGE),
    ]
    # the API's chart: its budget line where the axis says 2 s, and the slow stretch above it
    api = shown["API health"]
    two_seconds = re.search(r'y1="([\d.]+)" y2="[\d.]+"/><text class="h-y" x="[\d.]+" y="[\d.]+">2 s</text>', api)
    budget = re.search(r'<line class="h-budget" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)"', api)
    assert budget.group(1) == two_seconds.group(1) and ">budget 2 s</text>" in api
    path_ys = [float(y) for y in re.findall(r",([\d.]+)", re.search(r'<path class="h-line h-s0" d="([^"]+)"', api)[1])]
    assert min(path_ys) < float(budget.group(1)) < max(path_ys)  # some runs above the line (slower), most below
    assert "4 runs over the 2.0 s budget in 7 days" in api
    # the walk: one line per step; a check without times has no chart
    assert shown["The walk"].count('<path class="h-line') == 3 and "h-chart" not in shown["Ports"]
    assert "<script" not in page and "src=" not in page and "<link" not in page  # one file, offline


def test_2000_runs_make_a_page_of_a_few_hundred_kb_at_most():
    """Times are tools/history_page.py's to measure; the size is the page's own."""
    runs = made_up.week(every=timedelta(minutes=5), count=2000)
    page = history.page(runs)
    assert len(page.encode("utf-8")) < 300_000, len(page)
    assert "2000 runs" in page and page.count('<article class="h-card">') == 6


def test_history_lines_without_times_still_read_and_render(tmp_path):
    """A line written before the history kept times: it counts for the uptime; a chart only of the runs with times."""
    path = tmp_path / history.FILE_NAME
    older = {"time": "2026-12-03T13:00:00+00:00", **ABOUT, "state": "NO-GO",
             "checks": {"API health": ["failed", "API health: no answer"]}}
    path.write_text(json.dumps(older) + "\n", encoding="utf-8")
    history.append(path, entry(10), 3600, 10)
    old, new = history.read(path)
    assert old.times == {} and old.red("API health") and new.times == {}
    page = history.page([old, new])
    assert '<svg class="h-chart"' not in page and uptime_figures(cards(page)["API health"]) == ["50 %"] * 3


def test_a_runs_times_come_from_its_checks_outcomes():
    outcomes = [Outcome("a", "a", "passed", name="API health", timings={"GET /health/live": (0.012, 2.0)}),
                Outcome("d", "d", "passed", name="Ports")]
    assert Entry.of(Verdict("GO", "", outcomes), ABOUT, T0).times == {"API health": {"GET /health/live": [0.012, 2.0]}}


def test_incidents_run_from_the_first_no_go_to_the_next_go():
    def run(minutes: int, state: str, red: tuple[str, ...] = ()) -> Entry:
        return Entry((T0 + timedelta(minutes=minutes)).isoformat(), "local", "s", "a", state,
                     {name: ("failed", f"{name} broke") for name in red})

    runs = [run(0, "GO"), run(5, "NO-GO", ("Database",)), run(10, "COULD NOT CHECK"),
            run(15, "NO-GO", ("API health", "Database")), run(20, "GO WITH WARNINGS"), run(25, "NO-GO", ("Ports",))]
    first, ongoing = history.incidents(runs)
    assert (first.seconds, first.checks, first.message) == (900, ("Database", "API health"), "Database broke")
    assert ongoing.end is None and ongoing.seconds == 0
    assert "so far (still NO-GO at the last run)" in history.page(runs)


def test_the_charts_doctests():
    assert doctest.testmod(charts).failed == 0


def test_a_page_that_cannot_be_written_is_one_line_and_exit_4(tmp_path, capsys):
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    assert history.main([str(tmp_path / history.FILE_NAME), str(tmp_path / "taken" / "history.html")]) == 4
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "cannot write" in said
