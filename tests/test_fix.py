"""care2-predemo fix: what it offers, what it runs and what it never does (the safety rules), on verdicts made here.

The checks themselves are not run: Session.check hands out the verdicts a test gives, in order. Runs of `fix`
against the stage are tools/fix_benchmark.py's (and test_fix_on_stage below for one fault).
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from smoke import arguments, fix
from smoke.probes import fixes
from smoke.probes.fixes import Fix, Step, Wait
from smoke.redact import MASK
from smoke.target import load_target
from smoke.verdict import Outcome, Verdict

GO = Verdict("GO", "every pre-demo check passed", [Outcome("t::ports", "Ports", "passed", name="Ports")])


def touching(marker: Path, *before: str) -> Step:
    """A step that leaves ``marker`` behind (after running ``before``, Python statements)."""
    code = "; ".join([*before, f"open({str(marker)!r}, 'w').close()"])
    return Step((sys.executable, "-c", code), f"the file {marker.name}")


def failing(code: int = 3) -> Step:
    return Step((sys.executable, "-c", f"import sys; print('no such app'); sys.exit({code})"), "PM2 app nothing")


def no_go(*found: Fix, name: str = "Ports") -> Verdict:
    outcome = Outcome(f"t::{name}", name, "failed", message=f"{name}: broken", name=name,
                      fixes=[each.data() for each in found])
    return Verdict("NO-GO", f"failed: {name}", [outcome])


@pytest.fixture
def session(tmp_path, monkeypatch, capsys):
    """``session(args, verdicts, answers)``: a fix run whose checks say ``verdicts`` in turn; (exit code, what it
    said, how many times it checked)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # no terminal, unless a test says otherwise
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)

    def run(args: list[str], verdicts: list[Verdict], answers=(), target=None):
        said = iter(verdicts)
        checks = []

        def check(self):
            checks.append(1)
            self.verdict = next(said, verdicts[-1])
            self.code = 0 if self.verdict.state.startswith("GO") else 1
            if self.verdict.state == "NO-GO" and self.first_no_go is None:
                self.first_no_go = time.monotonic()

        monkeypatch.setattr(fix.Session, "check", check)
        replies = iter(answers)
        command = arguments.parse(["fix", *args, f"--reports-dir={tmp_path / 'reports'}"])
        code = fix.main(command, target or load_target("local"), ask=lambda prompt: next(replies))
        return code, capsys.readouterr().out, len(checks)

    return run


def test_yes_runs_the_command_then_checks_again(session, tmp_path):
    marker = tmp_path / "restarted"
    code, said, checks = session(["--yes"], [no_go(Fix("pm2 restart it", [touching(marker)])), GO])
    assert (code, checks, marker.exists()) == (0, 2, True), said
    assert f"runs:    {touching(marker).shown()}" in said and "touches: the file restarted" in said
    assert "time from the first NO-GO to this verdict:" in said
    log = next((tmp_path / "reports").glob("fix-*.log")).read_text()
    assert "run it? yes (--yes)" in log and "exit code 0" in log


def test_without_a_terminal_or_yes_nothing_is_offered(session, tmp_path):
    marker = tmp_path / "restarted"
    code, said, checks = session([], [no_go(Fix("pm2 restart it", [touching(marker)]))])
    assert (code, checks, marker.exists()) == (1, 1, False)
    assert "no terminal to answer on and no --yes: nothing offered, nothing run" in said
    assert "runs:" in said  # the plan is still shown


def test_only_a_yes_runs_a_command(session, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    marker = tmp_path / "restarted"
    code, said, checks = session([], [no_go(Fix("pm2 restart it", [touching(marker)]))], answers=["n"])
    assert (code, checks, marker.exists()) == (1, 1, False) and "not run" in said
    code, said, checks = session([], [no_go(Fix("pm2 restart it", [touching(marker)])), GO], answers=["y"])
    assert (code, checks, marker.exists()) == (0, 2, True)


def test_dry_run_prints_the_plan_and_runs_nothing(session, tmp_path):
    marker = tmp_path / "restarted"
    code, said, _ = session(["--dry-run", "--yes"], [no_go(Fix("pm2 restart it", [touching(marker)]))])
    assert not marker.exists() and "dry run: nothing was run" in said and touching(marker).shown() in said


@pytest.mark.parametrize("ci", [{"CI": "true"}, {"CI": "1"}, {"GITHUB_ACTIONS": "true"}])
def test_never_on_production_checked_from_ci(session, tmp_path, monkeypatch, ci):
    for name, value in ci.items():
        monkeypatch.setenv(name, value)
    marker = tmp_path / "restarted"
    code, said, _ = session(["--yes"], [no_go(Fix("pm2 restart it", [touching(marker)]))],
                            target=load_target("production"))
    assert (code, marker.exists()) == (1, False)
    assert "production, checked from CI: fix runs nothing there" in said
    session(["--yes"], [no_go(Fix("pm2 restart it", [touching(marker)])), GO])  # local from CI: allowed
    assert marker.exists()


def test_nothing_runs_where_this_machine_does_not_run_the_app(session, tmp_path):
    """production-ci is checked from afar (host_checks false): this machine's PM2 is not the app's."""
    target = load_target("production-ci", environ={})
    restart = fixes.restart(target, "frontend")
    assert (str(restart), restart.steps, restart.wait) == ("pm2 restart careconnect-frontend-prod", (), Wait())
    marker = tmp_path / "restarted"  # a verdict file that holds a step all the same
    code, said, _ = session(["--yes"], [no_go(Fix("pm2 restart it", [touching(marker)]))], target=target)
    assert (code, marker.exists()) == (1, False)
    assert "this machine does not run the app (host_checks = false): nothing to run here" in said


def test_recreate_runs_only_with_the_ecosystem_file_found(tmp_path, monkeypatch):
    """A start that fails after the delete would leave the app out of PM2: worse than before."""
    monkeypatch.chdir(tmp_path)
    target = load_target("local", environ={"SMOKE_APP_CONFIG_ECOSYSTEM": "eco.json"})
    missing = fixes.recreate(target, "careconnect-backend-prod")
    assert (missing.steps, missing.wait) == ((), Wait())
    assert str(missing).endswith("(the ecosystem file eco.json is not found on this machine)")
    (tmp_path / "eco.json").write_text('{"apps": []}')
    found = fixes.recreate(target, "careconnect-backend-prod")
    delete, start = found.steps
    assert (delete.argv[-2:], start.argv[-4:]) == (("delete", "careconnect-backend-prod"),
                                                   ("start", str(tmp_path.resolve() / "eco.json"), "--only",
                                                    "careconnect-backend-prod"))


def test_a_redacted_command_is_never_run(session, tmp_path):
    marker = tmp_path / "restarted"
    masked = Step((*touching(marker).argv, f"--token={MASK}"), "the file restarted")
    code, said, _ = session(["--yes"], [no_go(Fix("pm2 restart it", [masked]))])
    assert (code, marker.exists()) == (1, False)
    assert f"not run: part of its command was redacted ({MASK}) in the verdict file" in said


def test_a_failing_command_stops_its_fix_and_says_so(session, tmp_path):
    marker = tmp_path / "started"
    recreate = Fix("pm2 delete it && pm2 start it", [failing(), touching(marker)])
    code, said, checks = session(["--yes"], [no_go(recreate)])
    assert (code, checks, marker.exists()) == (1, 1, False)
    assert "failed: " in said and "no such app; nothing was changed" in said and "nothing was run" in said


def test_a_program_that_is_missing_runs_no_step_at_all(session, tmp_path):
    marker = tmp_path / "deleted"
    missing = Step(("no-such-pm2-here", "start", "it"), "PM2 app it")
    code, said, _ = session(["--yes"], [no_go(Fix("pm2 delete it && pm2 start it", [touching(marker), missing]))])
    assert not marker.exists() and "'no-such-pm2-here' is not found on this machine; nothing was changed" in said


@pytest.mark.skipif(os.name == "nt", reason="the POSIX kill is what this machine runs; Stop-Process is shown below")
def test_a_process_is_stopped_only_while_it_is_the_one_shown(session, sleeper):
    created = psutil.Process(sleeper.pid).create_time()
    elsewhen = fixes.kill(sleeper.pid, "python -c sleep", created + 5)  # its PID now another process's
    code, said, _ = session(["--yes"], [no_go(elsewhen)])
    assert f"not run: PID {sleeper.pid} is another process than the one shown" in said
    assert sleeper.poll() is None  # untouched
    code, said, _ = session(["--yes"], [no_go(fixes.kill(sleeper.pid, "python -c sleep", created)), GO])
    assert code == 0 and sleeper.wait(timeout=10) is not None
    assert f"touches: process {sleeper.pid} (python -c sleep)" in said


def test_ctrl_c_during_a_fix_finishes_that_fix_and_runs_nothing_more(session, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    interrupt = "import os, signal, time; os.kill(os.getppid(), signal.SIGINT); time.sleep(0.5)"
    fix_one = Fix("delete and start it", [touching(tmp_path / "half", interrupt), touching(first)])
    fix_two = Fix("restart the other", [Step(touching(second).argv, "PM2 app other")])
    code, said, checks = session(["--yes"], [no_go(fix_one, fix_two)])
    assert (tmp_path / "half").exists() and first.exists() and not second.exists()
    assert (code, checks) == (arguments.INTERRUPTED, 1)
    assert "Ctrl-C: this fix is finished first, then nothing more is run" in said
    assert said.rstrip().splitlines()[-4].startswith("interrupted: nothing more is run; the checks were not run")


def test_ctrl_c_at_the_question_runs_nothing(session, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    marker = tmp_path / "restarted"

    def interrupted(prompt):
        raise KeyboardInterrupt

    monkeypatch.setattr(fix.Session, "consents", lambda self: interrupted(""))
    code, said, _ = session([], [no_go(Fix("pm2 restart it", [touching(marker)]))])
    assert (code, marker.exists()) == (arguments.INTERRUPTED, False) and "verdict: NO-GO" in said


def test_a_later_lines_fix_for_the_same_app_wins(tmp_path):
    """frontend-down: the site's line says `pm2 restart`; Processes read PM2's list (the app is not in it): start."""
    (tmp_path / "eco.json").write_text('{"apps": []}')
    target = load_target("local", environ={"SMOKE_APP_CONFIG_ECOSYSTEM": str(tmp_path / "eco.json")})
    site = Outcome("t::site", "Site", "failed", name="Site reachable",
                   fixes=[fixes.restart(target, "frontend").data()])
    processes = Outcome("t::proc", "Processes", "failed", name="Processes",
                        fixes=[fixes.start(target, "careconnect-frontend-prod").data()])
    walk = Outcome("t::walk", "Walk", "failed", name="The walk", fixes=[Fix("", sources=["microphone=()"]).data()])
    actions, unfixable = fix.plan(Verdict("NO-GO", "", [site, processes, walk]))
    assert [action.fix.steps[0].argv[-3:] for action in actions] == [(str((tmp_path / "eco.json").resolve()), "--only",
                                                                      "careconnect-frontend-prod")]
    assert unfixable == [walk]
    assert fix.plan(Verdict("NO-GO", "", [site, processes]), {actions[0].key})[0][0].outcome is site


def test_what_no_command_can_fix_is_shown_with_its_place_in_the_checkout(tmp_path):
    app = tmp_path / "app"
    (app / "frontend" / "app" / "tell-your-story").mkdir(parents=True)
    (app / "frontend" / "next.config.js").write_text("headers: [\n  'camera=(), microphone=(), geo=()'\n]\n")
    (app / "frontend" / "app" / "tell-your-story" / "page.tsx").write_text('x\nreturn "http://localhost:3003";\n')
    (app / "backend" / "src").mkdir(parents=True)
    (app / "backend" / "src" / "server.ts").write_text("a\nb\napp.use('/api/story', storyRoutes);\n")
    target = load_target("local", environ={"SMOKE_APP_CONFIG_CHECKOUT": str(app)})
    assert fix.where(target, "microphone=()") == "frontend/next.config.js:2 ('microphone=()')"
    assert fix.where(target, "http://localhost:3003") == \
        "frontend/app/tell-your-story/page.tsx:2 ('http://localhost:3003')"
    assert fix.where(target, "/api/story/start") == \
        "backend/src/server.ts:3 ('/api/story', where the backend serves it)"
    assert "set app_config.checkout" in fix.where(load_target("local"), "microphone=()")
    assert fix.where(target, "backend/src/routes/story.ts:42") == "backend/src/routes/story.ts:42"  # from a log


def test_windows_commands(monkeypatch):
    """On the demo host: pm2 through its .cmd shim, Stop-Process for a PID, Restart-Service for the tunnel service."""
    monkeypatch.setattr(fixes, "WINDOWS", True)
    target = load_target("local")
    assert fixes.restart(target, "backend").steps[0].shown() == "pm2.cmd restart careconnect-backend-prod"
    assert fixes.kill(4242, "node.exe server.js", 1.0).steps[0].shown() == \
        'powershell -NoProfile -Command "Stop-Process -Id 4242 -Force"'
    service = fixes.restart_tunnel(target, windows_service=True)
    assert service.steps[0].shown() == 'powershell -NoProfile -Command "Restart-Service Cloudflared"'
    assert service.wait == Wait(target.tunnel.min_uptime)
    assert str(service).startswith("Restart-Service Cloudflared (PowerShell as administrator")
