"""care2-predemo: the pre-demo checks from one command, on Windows, macOS and Linux alike.

usage: care2-predemo [--open] [--fallback ENV] [PYTEST ARGS...]
       care2-predemo watch [--every 5m] [--until HH:MM] [--runs N] [PYTEST ARGS...]   (watch --help)
       care2-predemo fix [--yes] [--dry-run] [PYTEST ARGS...]   (fix --help: the red lines' commands, with consent)

Run it from any folder. It runs `pytest -m predemo` with the arguments given (--env NAME,
--env-file=PATH, -m "predemo and not browser", ...; all of pytest's: pytest --help).
First it says, one line each, what this machine lacks for the run and how to get it;
it ends with the verdict and the report's path.

  --open          open the report in the default browser when the run is done
  --fallback ENV  check ENV too (e.g. local) and say whether the demo can be presented from there
  -h, --help      this text

exit codes: 0 GO or GO WITH WARNINGS, 1 NO-GO or COULD NOT CHECK, 2 interrupted, 4 bad input
"""

from __future__ import annotations

import os
import shutil
import sys
import webbrowser
from pathlib import Path

import pytest

from .arguments import BAD_INPUT, INTERRUPTED, NAME, NO_GO, SUBCOMMANDS, BadInput, Command, exit_code, parse
from .browser import NoBrowser, find_chromium, playwright_chromium
from .installed import pytest_args
from .runs import run_checks
from .target import Target, TargetError, load_target

PM2_HINT = "install Node.js, then `npm install -g pm2` (on Windows also pm2-windows-startup to keep it running)"


def main(argv: list[str] | None = None) -> int:
    try:
        return run_predemo(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail again
        return NO_GO


def run_predemo(args: list[str]) -> int:
    for stream in (sys.stdout, sys.stderr):  # a Windows console or a redirect in cp1252 cannot say every character
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        command = parse(args)
    except BadInput as error:
        said = " ".join([NAME, *args[:1]]) if args[:1] and args[0] in SUBCOMMANDS else NAME
        print(f"{said}: {error}", file=sys.stderr)
        return BAD_INPUT
    if command.subcommand == "watch":
        from . import watch as subcommand  # only a watch needs it (and apprise)
    elif command.subcommand == "fix":
        from . import fix as subcommand
    else:
        subcommand = None
    if command.help:
        print((subcommand or sys.modules[__name__]).__doc__.strip())
        return 0
    try:
        target = load_target(command.environment, command.environment_file)
    except TargetError as error:
        print(f"{' '.join([NAME, command.subcommand]).strip()}: {error}", file=sys.stderr)
        return BAD_INPUT
    if subcommand is not None:
        return subcommand.main(command, target)
    fallback = target.fallback if command.fallback is None else command.fallback
    if fallback == target.name or {"--collect-only", "--co"} & set(command.pytest_args):
        fallback = ""
    try:
        fallback_target = load_target(fallback, command.environment_file) if fallback else None
    except TargetError as error:
        print(f"{NAME}: the fallback: {error}", file=sys.stderr)
        return BAD_INPUT
    for line in missing(target, walks=command.walks):
        print(f"{NAME}: {line}", file=sys.stderr)
    try:
        extra = [f"--fallback-verdict={check_fallback(command, fallback_target)}"] if fallback_target else []
    except KeyboardInterrupt:
        print(f"{NAME}: interrupted while checking the fallback", file=sys.stderr)
        return INTERRUPTED
    run = RunOutcome()
    code = exit_code(pytest.main(["-m", "predemo", *pytest_args([*command.for_pytest(), *extra])], plugins=[run]))
    if command.open_report and run.page is not None and run.page.is_file():
        if not webbrowser.open(run.page.resolve().as_uri()):
            print(f"{NAME}: no default browser to open the report; open {run.page}", file=sys.stderr)
    return code


def check_fallback(command: Command, fallback: Target) -> Path:
    """Run the checks against the fallback first, into a folder of its own (its walk with its own write rules); the
    verdict file it wrote, which the main run's verdict tells of. Its HTTP checks and walk only: the host checks
    judge this host's tunnel, proxy and processes, which the main run judges on the same host, and a broken tunnel
    or proxy does not stop a demo presented from localhost."""
    reports = command.reports / "fallback"
    print(f"{NAME}: checking the fallback first: {fallback.name} ({fallback.site_url}) ...", flush=True)
    verdict_file = reports / "verdict.json"
    verdict_file.unlink(missing_ok=True)  # an old one must not pass for this run's
    environ = {**os.environ, "SMOKE_REPORTS_DIR": str(reports)}
    marks = f"({command.marks or 'predemo'}) and not host"
    run_checks(pytest_args([*command.for_pytest(marks, fallback.name), f"--reports-dir={reports}"]), environ)
    return verdict_file


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
