"""The walk in Chromium against the stage: green end to end in both write modes; each page-level
fault stops it at the right step with the message the presenter needs. And what the walk reads of the
answers it names, on a page of the test's own."""

import json
import sqlite3

import pytest

from fixtures.stage import Stage
from fixtures.stage import pm2 as stage_pm2
from fixtures.stage.backend import STORY_START_ERROR
from smoke.probes.traffic import Traffic
from smoke.probes.walk import StoryWalk
from smoke.target import load_target
from tests.conftest import STORY_ERROR_EVIDENCE, names_its_code, serving

WALK = "tell_your_story_walk"


def tickets(stage: Stage) -> int:
    with sqlite3.connect(stage.db_path) as db:
        return db.execute("select count(*) from tickets").fetchone()[0]


def test_healthy_walk_submits_and_reaches_the_profile(tmp_path, run_predemo):
    with Stage(workdir=tmp_path / "stage", pm2=False) as stage:
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
    with Stage(workdir=tmp_path / "stage", pm2=False) as stage:
        run = run_predemo(stage.env_file, "production", "browser")
        created = tickets(stage)
    assert run.outcomes[WALK][0] == "passed", run.output
    [walk] = [outcome for outcome in run.verdict.outcomes if outcome.name == "The walk"]
    assert "stopped before submitting" in walk.result, walk  # the terminal's row is clipped to its width
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
        ("chunk-missing", ("step '1. Home page'", "static asset failed", "/_next/static/chunks/app-", "-> 400")),
    ],
)
def test_a_page_fault_stops_the_walk_at_its_step(fault, words, tmp_path, run_predemo):
    with Stage(faults={fault}, workdir=tmp_path / "stage", pm2=False) as stage:
        run = run_predemo(stage.env_file, "local", "browser")
        ports = {"fe": stage.ports["frontend"], "be": stage.ports["backend"], "dead": stage.ports.get("dead")}
    state, message = run.outcomes[WALK]
    assert state == "failed", run.output
    for word in words:
        assert word.format(**ports) in message, f"{fault}: the walk should say {word.format(**ports)!r}:\n{message}"
    [walk] = [outcome for outcome in run.verdict.outcomes if outcome.red]
    assert walk.judged_at and all(map(names_its_code, walk.judged_at)), walk.judged_at
    assert walk.judged_at[0].startswith("smoke/probes/walk.py:"), f"the step's condition, not {walk.judged_at}"
    if fault not in ("mic-blocked", "api-base-3003"):  # a server's fault: nothing for the browser to get past
        assert "Behind it" not in message, f"{fault}: no work-around applies:\n{message}"


BLOCKERS = {  # fault -> what its blocker says, in the order the walk meets them
    "mic-blocked": ("step '3. Recording'", "microphone blocked by Permissions-Policy", "microphone=()"),
    "api-base-3003": ("step '4. Submit and processing'", "the page called http://localhost:{dead}/api/story/start",
                      "configured API is http://localhost:{be}", "fix: make the page call http://localhost:{be}"),
    "story-start-500": ("step '4. Submit and processing'", "/api/story/start -> 500",
                        "Cannot read properties of undefined (reading 'create')"),
}
BEHIND = "Behind it, found by working around the blockers before it, in the suite's browser only:"


def walk_with(faults: set[str], tmp_path, run_predemo, *extra: str):
    with Stage(faults=faults, workdir=tmp_path / "stage", pm2=False) as stage:
        run = run_predemo(stage.env_file, "local", "browser", *extra)
        ports = {"fe": stage.ports["frontend"], "be": stage.ports["backend"], "dead": stage.ports.get("dead")}
    return run, ports


def test_one_run_names_every_blocker_on_the_path_in_order(tmp_path, run_predemo, chromium_version):
    run, ports = walk_with(set(BLOCKERS), tmp_path, run_predemo)
    state, message = run.outcomes[WALK]
    # how the walk gets past a blocker (a page it serves itself, answers it fetches) depends on the browser
    seen = f"{chromium_version}:\n{message}"
    assert state == "failed", f"{chromium_version}:\n{run.output}"
    assert message.count(BEHIND) >= 1, seen
    # JUnit carries the message twice (attribute and text): read one copy
    first, behind = message.split(BEHIND)[:2]
    behind = behind.split("The walk failed at step '3.")[0]
    assert all(word.format(**ports) in first for word in BLOCKERS["mic-blocked"]), seen
    second, third = behind.split("\n  3. ")
    assert second.lstrip().startswith("2. (after: dropped the page's Permissions-Policy header)"), seen
    assert all(word.format(**ports) in second for word in BLOCKERS["api-base-3003"]), seen
    moved = f"sent the page's requests for http://localhost:{ports['dead']} to http://localhost:{ports['be']}"
    assert moved in third, seen
    assert all(word.format(**ports) in third for word in BLOCKERS["story-start-500"]), seen
    assert f"(sent to http://localhost:{ports['be']} by the work-around)" in third, seen
    assert "the rest of the walk went through" not in message  # a server error stops the walk
    assert ("NO-GO: failed: The walk: microphone blocked by the page's Permissions-Policy, and 2 more behind it"
            in run.output)


@pytest.mark.parametrize("fault", sorted(BLOCKERS))
def test_each_blocker_alone_is_named_alone(fault, tmp_path, run_predemo, chromium_version):
    run, ports = walk_with({fault}, tmp_path, run_predemo)
    state, message = run.outcomes[WALK]
    # how the walk gets past a blocker (a page it serves itself, answers it fetches) depends on the browser
    seen = f"{chromium_version}:\n{message}"
    assert state == "failed", f"{chromium_version}:\n{run.output}"
    assert all(word.format(**ports) in message for word in BLOCKERS[fault]), seen
    others = [word for other in set(BLOCKERS) - {fault} for word in BLOCKERS[other][1:]]
    assert not any(word.format(**ports) in message for word in others), seen
    if fault == "story-start-500":  # nothing the browser may get past: the walk stops there
        assert BEHIND not in message, seen
    else:  # worked around, the rest of the walk works: still red, never a pass
        assert "the rest of the walk went through: home, consent" in message and "profile 'Smoke Test'" in message, seen


@pytest.mark.skipif(not stage_pm2.installed(), reason=stage_pm2.MISSING)  # PM2 keeps the backend's log
def test_the_walks_500_quotes_the_backends_error_line(tmp_path, run_predemo):
    """On the demo host the 500 comes with the backend's own words, from the log PM2 keeps: the error, and the file
    and line of the app's code that threw it (the real backend: src/routes/story.ts:39)."""
    with Stage(faults={"story-start-500"}, workdir=tmp_path / "stage", pm2=True) as stage:
        run = run_predemo(stage.env_file, "local", "browser")
    state, message = run.outcomes[WALK]
    assert state == "failed", run.output
    assert any(STORY_ERROR_EVIDENCE.match(line.removeprefix("  evidence: ")) for line in message.splitlines()), \
        message


def test_no_work_around_where_none_is_needed(tmp_path, run_predemo):
    run, _ = walk_with(set(), tmp_path, run_predemo)
    state, message = run.outcomes[WALK]
    assert state == "passed", run.output
    assert "behind blocker" not in (run.reports / "latest.html").read_text(encoding="utf-8")


def test_first_blocker_only_stops_at_the_first(tmp_path, run_predemo):
    run, ports = walk_with(set(BLOCKERS), tmp_path, run_predemo, "--first-blocker-only")
    state, message = run.outcomes[WALK]
    assert state == "failed" and BEHIND not in message, run.output
    assert all(word.format(**ports) in message for word in BLOCKERS["mic-blocked"]), message



STORY_ERROR = json.dumps(STORY_START_ERROR)
# The page stops loading the moment it has the answer's status, before anything read its body: what the walk does
# when a step fails (Page.stopLoading), here without a race, whatever the machine's speed.
STOPS_AT_THE_STATUS = """<!doctype html><title>waiting</title><script>
fetch("%s/api/story/start", {method: "POST", body: "{}"})
  .then(answer => { window.stop(); document.title = "answered " + answer.status; });
</script>"""


def test_every_answer_the_walk_names_carries_its_body_or_says_why(chromium_browser, tmp_path, unused_port):
    json_500 = (500, {"content-type": "application/json", "access-control-allow-origin": "*"}, STORY_ERROR)
    site = {}  # read at each request: filled once the ports are known
    with serving({"/api/story/start": json_500}) as api_port, serving(site) as site_port:
        api, dead = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{unused_port}"
        site.update({f"/{name}": (200, {"content-type": "text/html"}, STOPS_AT_THE_STATUS % origin)
                     for name, origin in (("moved", dead), ("direct", api))})
        env = tmp_path / "env.toml"
        env.write_text(f'[environments.local]\nsite_url = "http://127.0.0.1:{site_port}"\napi_url = "{api}"\n',
                       encoding="utf-8")
        described = {}
        for name in ("moved", "direct"):
            page = chromium_browser.new_page()
            walk = StoryWalk(page, load_target("local", env))
            walk.redirected_apis.add(dead)  # the work-around: the page's calls to the dead port go to the API
            page.goto(f"http://127.0.0.1:{site_port}/{name}")
            page.wait_for_function("document.title.startsWith('answered')")
            [call] = walk.traffic.calls("/api/story/start")
            described[name] = call.describe()
            page.close()
    seen = f"Chromium {chromium_browser.version}: {described}"
    # the walk fetched this answer itself: it holds the body, whatever the browser keeps
    assert described["moved"] == f"POST {dead}/api/story/start -> 500: {STORY_ERROR}", seen
    # the browser's own: its body while the browser keeps it, else why there is none
    direct = f"POST {api}/api/story/start -> 500"
    assert (described["direct"] == f"{direct}: {STORY_ERROR}"
            or described["direct"].startswith(f"{direct} (its body was gone from the browser when the suite read it: ")
            ), seen


READS_ONLY_THE_STATUS = """<!doctype html><title>waiting</title><script>
fetch("%s/api/story/start", {method: "POST", body: "{}"})
  .then(answer => { document.title = "answered " + answer.status; });
</script>"""


def test_an_error_the_page_never_read_keeps_its_body_once_the_page_has_moved_on(chromium_browser):
    """A failed step stops the page's loading, after which Chromium may have dropped an answer the page never read
    (the page reads the status only): its body is read before. Here the page navigates away, which drops it always."""
    json_500 = (500, {"content-type": "application/json", "access-control-allow-origin": "*"}, STORY_ERROR)
    site = {}
    with serving({"/api/story/start": json_500}) as api_port, serving(site) as site_port:
        api = f"http://127.0.0.1:{api_port}"
        site["/"] = (200, {"content-type": "text/html"}, READS_ONLY_THE_STATUS % api)
        page = chromium_browser.new_page()
        traffic = Traffic.attach(page)
        page.goto(f"http://127.0.0.1:{site_port}/")
        page.wait_for_function("document.title.startsWith('answered')")
        traffic.keep_error_bodies(page)
        page.goto("about:blank")
        [call] = traffic.calls("/api/story/start")
        described = call.describe()
        page.close()
    assert described == f"POST {api}/api/story/start -> 500: {STORY_ERROR}", (
        f"Chromium {chromium_browser.version}: {described}")
