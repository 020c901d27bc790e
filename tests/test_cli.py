"""care2-predemo, the one command: its help, a run against the stage, and what it says when something is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smoke import arguments

# the console script pip installed beside python (care2-predemo.exe in .venv\Scripts on Windows)
SCRIPT = shutil.which("care2-predemo", path=str(Path(sys.executable).parent)) or "care2-predemo"
# The same command on a machine with no Chromium, Chrome or Edge anywhere (nor Playwright's own: see the run).
WITHOUT_BROWSERS = [sys.executable, "-c", "import sys, smoke.browser as b; b.SYSTEM_CANDIDATES[:] = []; "
                    "b.PATH_NAMES[:] = []; from smoke.cli import main; sys.exit(main())"]


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_help_is_short_and_names_the_exit_codes(run_command):
    run = run_command(SCRIPT, "--help")
    assert run.code == 0 and run.stderr == ""
    said = run.stdout.decode()
    assert said.startswith("care2-predemo: ")
    assert "usage: care2-predemo [--open] [--fallback ENV] [PYTEST ARGS...]" in said
    assert "exit codes: 0 GO or GO WITH WARNINGS, 1 NO-GO or COULD NOT CHECK, 2 interrupted, 4 bad input" in said
    assert len(lines(said)) <= 15 and not run.verdict  # nothing ran


def test_a_reader_that_goes_away_gets_no_traceback():
    """`care2-predemo --help | head -1`: the pipe closes before the help is written."""
    reader, writer = os.pipe()
    os.close(reader)
    done = subprocess.run([SCRIPT, "--help"], stdout=writer, stderr=subprocess.PIPE, timeout=60, check=False)
    os.close(writer)
    assert done.returncode == 1 and b"Traceback" not in done.stderr, done.stderr.decode()


def test_bad_input_is_one_line_and_exit_code_4(run_command, tmp_path):
    run = run_command(SCRIPT, "--env", "nosuch")
    assert run.code == 4 and run.stdout == b"", run.output
    bundled = Path("smoke/environments.toml").resolve()
    assert lines(run.stderr) == [f"care2-predemo: unknown environment 'nosuch' in {bundled} "
                                 "(known: local, production, production-ci)"]
    missing = tmp_path / "nope.toml"
    run = run_command(SCRIPT, "--env-file", str(missing))
    assert (run.code, lines(run.stderr)) == (4, [f"care2-predemo: environments file not found: {missing}"])
    run = run_command(SCRIPT, "-m", "no_such_marker")  # selects no check
    assert run.code == 4 and "Traceback" not in run.output


def test_against_the_stage_it_runs_predemo_and_opens_the_report(healthy_stage, run_command, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"  # stands in for the default browser: notes the address it was given
    browser.write_text("import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])\n")
    run = run_command(SCRIPT, "--env-file", str(healthy_stage.env_file), "--open", "-p", "no:cacheprovider",
                      BROWSER=f"{sys.executable} {browser} {opened} %s")
    said, report = lines(run.stdout.decode()), run.verdict["about"]["report"]
    assert run.code == 0 and run.verdict["state"].startswith("GO"), run.output
    assert said[-2].startswith(("GO: ", "GO WITH WARNINGS: ")) and said[-1] == f"report: {report}"
    assert "missing" not in run.stderr  # Chromium and the stage's PM2 are there
    assert opened.read_text() == Path(report).resolve().as_uri()


def test_no_chromium_findable_is_said_first_and_the_walk_is_red(healthy_stage, run_command, tmp_path):
    run = run_command(*WITHOUT_BROWSERS, f"--env-file={healthy_stage.env_file}", "-p", "no:cacheprovider",
                      PLAYWRIGHT_BROWSERS_PATH=str(tmp_path / "no-playwright-browsers"),
                      PYTHONIOENCODING="cp1252")  # as a Windows console redirected to a file
    assert "UnicodeEncodeError" not in run.output
    assert lines(run.stderr)[0] == ("care2-predemo: missing: no Chromium, Chrome or Edge found: install one with "
                                    "`apt-get install chromium` (Debian/Ubuntu), `playwright install chromium`, or "
                                    "Google Chrome; or set SMOKE_CHROMIUM to its path (the walk, check 10, fails "
                                    "without one)")
    assert (run.code, run.verdict["state"]) == (1, "NO-GO"), run.output
    assert [o["name"] for o in run.verdict["outcomes"] if o["state"] in ("failed", "error")] == ["The walk"]
    assert "During handling of the above exception" not in run.output  # said once in the walk's error, not twice



def test_no_pm2_where_the_environment_expects_it(run_command):
    run = run_command(SCRIPT, "--collect-only", "-q", SMOKE_PM2_COMMAND='["no-such-pm2", "jlist"]')
    assert lines(run.stderr) == [
        "care2-predemo: missing: PM2 ('no-such-pm2' is not on PATH), which the local environment expects (pm2.apps): "
        "install Node.js, then `npm install -g pm2` (on Windows also pm2-windows-startup to keep it running); or set "
        "pm2.command to the pm2 the apps run under"]
    run = run_command(SCRIPT, "--collect-only", "-q", "--env", "production-ci", SMOKE_PM2_COMMAND='["no-such-pm2"]')
    assert "missing" not in run.stderr  # no host checks from CI: PM2 is not expected there


@pytest.mark.parametrize("args, walks", [
    ([], True), (["-m", "predemo and not browser"], False), (["-mpredemo and not browser"], False),
    (["-m", "predemo and not browser", "-m", "predemo"], True),  # pytest keeps the last -m
])
def test_the_browser_is_asked_for_only_when_the_walk_runs(args, walks):
    assert arguments.parse(args).walks is walks


def test_env_file_in_two_words_reaches_pytest_as_one():
    command = arguments.parse(["--env-file", "my envs.toml", "-p", "no:x", "--env", "a", "--env=b"])
    assert command.for_pytest() == ["--env=b", "--env-file=my envs.toml", "-p", "no:x"]
    assert command.environment == "b"


@pytest.mark.parametrize("code, said", [(0, 0), (1, 1), (2, 2), (3, 1), (4, 4), (5, 4)])
def test_every_subcommand_maps_pytests_exit_codes_alike(code, said):
    """An internal error of pytest (3) is COULD NOT CHECK (1) under care2-predemo, watch and fix alike."""
    assert arguments.exit_code(code) == said



class Options:
    """What the plugin's pytest_addoption gives pytest: each option's default."""

    def __init__(self):
        self.defaults = {}

    def getgroup(self, *_):
        return self

    def addoption(self, name, default=None, **_):
        self.defaults[name] = default


@pytest.mark.parametrize("environ", [{}, {"SMOKE_ENV": "production", "SMOKE_ENV_FILE": "my envs.toml"},
                                     {"SMOKE_ENV": "", "SMOKE_ENV_FILE": ""}])
def test_pytest_and_care2_predemo_choose_the_same_environment(environ, monkeypatch):
    """--env and --env-file left out: pytest run alone and care2-predemo check the same environment (SMOKE_ENV)."""
    from smoke import plugin

    for name in ("SMOKE_ENV", "SMOKE_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    options = Options()
    plugin.pytest_addoption(options)
    command = arguments.parse([])
    assert (options.defaults["--env"], options.defaults["--env-file"]) == (command.environment,
                                                                           command.environment_file)
