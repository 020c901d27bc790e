"""care2-predemo: the pre-demo checks from one command, on Windows, macOS and Linux alike.

usage: care2-predemo [--open] [PYTEST ARGS...]
       care2-predemo watch [--every 5m] [--until HH:MM] [--runs N] [PYTEST ARGS...]   (watch --help)

Run it from any folder. It runs `pytest -m predemo` with the arguments given (--env NAME,
--env-file=PATH, -m "predemo and not browser", ...; all of pytest's: pytest --help).
First it says, one line each, what this machine lacks for the run and how to get it;
it ends with the verdict and the report's path.

  --open      open the report in the default browser when the run is done
  -h, --help  this text

exit codes: 0 GO or GO WITH WARNINGS, 1 NO-GO or COULD NOT CHECK, 2 interrupted, 4 bad input
"""

from __future__ import annotations

import os
import shutil
import sys
import webbrowser
from pathlib import Path

import pytest

from .browser import NoBrowser, find_chromium, playwright_chromium
from .installed import pytest_args
from .target import Target, TargetError, load_target

NAME = "care2-predemo"
# pytest's exit codes -> the README's: an internal error judged nothing (COULD NOT CHECK), and a
# selection that matches no check is bad input.
EXIT_CODES = {pytest.ExitCode.OK: 0, pytest.ExitCode.TESTS_FAILED: 1, pytest.ExitCode.INTERRUPTED: 2,
              pytest.ExitCode.INTERNAL_ERROR: 1, pytest.ExitCode.USAGE_ERROR: 4,
              pytest.ExitCode.NO_TESTS_COLLECTED: 4}
PM2_HINT = "install Node.js, then `npm install -g pm2` (on Windows also pm2-windows-startup to keep it running)"


def main(argv: list[str] | None = None) -> int:
    try:
        return run_predemo(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail again
        return 1


def run_predemo(args: list[str]) -> int:
    for stream in (sys.stdout, sys.stderr):  # a Windows console or a redirect in cp1252 cannot say every character
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if args[:1] == ["watch"]:
        from . import watch  # only a watch needs it (and apprise)

        return watch.main(args[1:])
    if "-h" in args or "--help" in args:
        print(__doc__.strip())
        return 0
    open_report = "--open" in args
    args = [arg for arg in args if arg != "--open"]
    try:
        environment = option(args, "--env", "SMOKE_ENV") or "local"
        target = load_target(environment, option(args, "--env-file", "SMOKE_ENV_FILE"))
    except TargetError as error:
        print(f"{NAME}: {error}", file=sys.stderr)
        return 4
    for line in missing(target, walks=not excludes_browser(args)):
        print(f"{NAME}: {line}", file=sys.stderr)
    run = RunOutcome()
    code = EXIT_CODES.get(pytest.main(["-m", "predemo", *pytest_args(one_word(args))], plugins=[run]), 1)
    if open_report and run.page is not None and run.page.is_file():
        if not webbrowser.open(run.page.resolve().as_uri()):
            print(f"{NAME}: no default browser to open the report; open {run.page}", file=sys.stderr)
    return code


def option(args: list[str], name: str, variable: str = "") -> str | None:
    """The value of ``NAME VALUE``, ``--name=VALUE`` or ``-nVALUE`` (the last one given), else the environment's."""
    found = (os.environ.get(variable) or None) if variable else None
    attached = name + "=" if name.startswith("--") else name
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            found = args[index + 1]
        elif arg.startswith(attached) and arg != name:
            found = arg[len(attached):]
    return found


def one_word(args: list[str]) -> list[str]:
    """``--env-file PATH`` as ``--env-file=PATH``: two words would make pytest take PATH for a test path."""
    joined, index = [], 0
    while index < len(args):
        if args[index] == "--env-file" and index + 1 < len(args):
            joined.append(f"--env-file={args[index + 1]}")
            index += 2
        else:
            joined.append(args[index])
            index += 1
    return joined


def excludes_browser(args: list[str]) -> bool:
    """The run's -m (the last one wins in pytest) leaves the browser walk out."""
    marks = option(args, "-m")
    return marks is not None and "not browser" in marks


def missing(target: Target, walks: bool) -> list[str]:
    """What this machine lacks for the run, one line each with how to get it."""
    lines = []
    if walks:
        try:
            find_chromium()
        except NoBrowser:
            try:  # Playwright's own build is asked for last: asking starts its driver (Node)
                find_chromium(playwright_chromium())
            except NoBrowser as error:
                lines.append(f"missing: {error} (the walk, check 10, fails without one)")
    uses_pm2 = target.host_checks and target.pm2.apps
    if uses_pm2 and shutil.which(target.pm2.command[0]) is None:
        lines.append(f"missing: PM2 ({target.pm2.command[0]!r} is not on PATH), which the {target.name} environment "
                     f"expects (pm2.apps): {PM2_HINT}; or set pm2.command to the pm2 the apps run under")
    return lines


class RunOutcome:
    """A plugin of this one run: where its report went."""

    page: Path | None = None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        from .report import VERDICT_KEY  # imported by pytest first, so that its asserts are rewritten

        presenter = config.pluginmanager.get_plugin("care2-presenter-report")
        if presenter is not None and config.stash.get(VERDICT_KEY, None) is not None:
            self.page = presenter.files.page


if __name__ == "__main__":
    sys.exit(main())
