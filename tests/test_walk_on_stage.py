"""The walk in Chromium against the stage: green end to end in both write modes; each page-level
fault stops it at the right step with the message the presenter needs."""

import sqlite3

import pytest

from fixtures.stage import Stage

WALK = "tell_your_story_walk"


def tickets(stage: Stage) -> int:
    with sqlite3.connect(stage.db_path) as db:
        return db.execute("select count(*) from tickets").fetchone()[0]


def test_healthy_walk_submits_and_reaches_the_profile(tmp_path, run_predemo):
    with Stage(workdir=tmp_path / "stage") as stage:
        run = run_predemo(stage.env_file, "local", "browser")
        created = tickets(stage)
    state, message = run.outcomes[WALK]
    assert state == "passed", run.output
    assert created == 1
    page = (run.reports / "latest.html").read_text(encoding="utf-8")
    steps = ("1. Home page", "2. Consent", "3. Recording", "4. Submit and processing", "5. Profile page")
    assert all(step in page for step in steps), "a screenshot of every step is in the report"
    assert page.count("data:image/jpeg;base64,") >= len(steps)


def test_walk_without_writes_stops_before_submitting_and_creates_nothing(tmp_path, run_predemo):
    with Stage(workdir=tmp_path / "stage") as stage:
        run = run_predemo(stage.env_file, "production", "browser")
        created = tickets(stage)
    assert run.outcomes[WALK][0] == "passed", run.output
    assert "stopped before submitting" in run.output
    assert created == 0


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("api-base-3003", ("step '4. Submit and processing'", "the page called http://localhost:{dead}/api/story/start",
                           "configured API is http://localhost:{be}")),
        ("cors-blocked", ("step '4. Submit and processing'", "CORS refused for origin http://localhost:{fe}",
                          "Access-Control-Allow-Origin")),
        ("mic-blocked", ("step '3. Recording'", "Could not access microphone",
                         "microphone blocked by Permissions-Policy", "microphone=()")),
        ("story-start-500", ("step '4. Submit and processing'", "POST http://localhost:{be}/api/story/start -> 500",
                             "Cannot read properties of undefined (reading 'create')",
                             "Failed to process your story")),
        ("processing-stuck", ("processing stuck", "'TRANSCRIBING' at 30%", "waited 10 s")),
        ("static-404-html", ("step '1. Home page'", "static asset failed", "/_next/static/", "404")),
    ],
)
def test_a_page_fault_stops_the_walk_at_its_step(fault, words, tmp_path, run_predemo):
    with Stage(faults={fault}, workdir=tmp_path / "stage") as stage:
        run = run_predemo(stage.env_file, "local", "browser")
        ports = {"fe": stage.ports["frontend"], "be": stage.ports["backend"], "dead": stage.ports.get("dead")}
    state, message = run.outcomes[WALK]
    assert state == "failed", run.output
    for word in words:
        assert word.format(**ports) in message, f"{fault}: the walk should say {word.format(**ports)!r}:\n{message}"
    assert run.seconds < 40, f"{fault}: the walk took {run.seconds:.1f} s"
