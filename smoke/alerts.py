"""After a run: publish the verdict, and tell people when the target has been failing for a while.

    python -m smoke.alerts reports/verdict.json

Reads the verdict the run wrote (smoke.report; it names the environment it judged), counts NO-GO
runs in a row per environment in a small state file (``alerts.state_file``, which the CI job caches
between runs) and sends, through apprise, to the URLs in ``SMOKE_ALERT_URLS`` (comma or space
separated, e.g. ``slack://...``, ``msteams://...``, ``mailtos://...``, ``json://host/path``):

- one alert when the run is the ``alerts.after_failures``-th NO-GO in a row, none for the runs after it;
- one recovery message at the first GO after an alert (``alerts.on_recovery``);
- nothing for COULD NOT CHECK (the runner's own network failed, the run broke): the count stays.

In GitHub Actions the verdict also goes to the job summary, and the alert links to the run's page.
Exit status: 0 when the verdict was handled, 1 when an alert was due and could not be sent (or there
was no verdict), 2 for a bad command line or environments file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import apprise

from .ci import in_ci
from .history import replace_whole
from .target import Alerts, Target, TargetError, load_target
from .text import os_problem
from .verdict import COULD_NOT_CHECK, NO_GO, Outcome, Verdict, from_json

URLS_VARIABLE = "SMOKE_ALERT_URLS"
ALERT, RECOVERY = "alert", "recovery"
LISTED_FAILURES = 10  # a message people read on a phone


@dataclass(frozen=True)
class Streak:
    """NO-GO runs in a row for one environment, and whether people were told about them."""

    failures: int = 0
    alerted: bool = False


def next_streak(streak: Streak, state: str, settings: Alerts) -> tuple[Streak, str]:
    """The streak after a run with verdict ``state``, and what to send: ALERT, RECOVERY or ""."""
    if state == COULD_NOT_CHECK:
        return streak, ""
    if state == NO_GO:
        failures = streak.failures + 1
        due = not streak.alerted and failures >= settings.after_failures
        return Streak(failures, streak.alerted or due), ALERT if due else ""
    return Streak(), RECOVERY if streak.alerted and settings.on_recovery else ""


class StateFile:
    """``{"<environment>": {"failures": 2, "alerted": true}}``; missing or unreadable = no failures yet."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError:  # missing: no failures yet; unusable: writing it says why
            return {}
        except ValueError as error:
            print(f"alerts: state file {self.path} unreadable ({error}); counting from zero", file=sys.stderr)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, environment: str) -> Streak:
        entry = self._read().get(environment)
        if not isinstance(entry, dict):
            return Streak()
        return Streak(int(entry.get("failures", 0)), bool(entry.get("alerted", False)))

    def put(self, environment: str, streak: Streak) -> None:
        data = self._read()
        data[environment] = asdict(streak)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_whole(self.path, json.dumps(data, indent=2) + "\n")


def message(kind: str, verdict: Verdict, target: Target, streak: Streak, report: str) -> tuple[str, str]:
    """(title, body) of an alert or a recovery message."""
    where = f"{target.name} ({target.site_url})"
    if kind == RECOVERY:
        title = f"Care2 {target.name}: recovered, {verdict.state}"
        return title, f"{where} recovered: {verdict.headline()}\nReport: {report}"
    red = [outcome for outcome in verdict.outcomes if outcome.red]
    lines = [f"{where} is NO-GO: {streak.failures} failed runs in a row.",
             *([f"{verdict.fallback_says()}."] if verdict.fallback else []), "Failing checks:"]
    lines += [f"- {one_liner(outcome)}" for outcome in red[:LISTED_FAILURES]]
    if len(red) > LISTED_FAILURES:
        lines.append(f"- and {len(red) - LISTED_FAILURES} more")
    lines.append(f"Report: {report}")
    return f"Care2 {target.name}: NO-GO", "\n".join(lines)


def one_liner(outcome: Outcome) -> str:
    """The check's name and the first line of what broke (the fix is in the report)."""
    line = outcome.message.strip().splitlines()[0] if outcome.message.strip() else outcome.state
    return line if line.startswith(outcome.label) else f"{outcome.label}: {line}"


def urls_missing(environ: Mapping[str, str]) -> str:
    """Why no alert can go out, in the words of where this runs; "" when there are URLs to send to."""
    if environ.get(URLS_VARIABLE, "").strip():
        return ""
    if in_ci(environ):
        return (f"{URLS_VARIABLE} is empty: add a secret named {URLS_VARIABLE} to the CI job (GitHub: the "
                "repository's Settings > Secrets and variables > Actions) holding the apprise URLs to notify")
    return (f"{URLS_VARIABLE} is not set: set this environment variable on this machine to the apprise URLs to "
            "notify (slack://..., msteams://..., mailtos://..., comma separated)")


def send(urls: str, title: str, body: str, kind: str, attach: str = "") -> str:
    """Deliver to every URL in ``urls``; the problem in one line, "" when all took it. URLs are secrets: never shown."""
    notifier = apprise.Apprise()
    if not notifier.add(urls):
        return f"{URLS_VARIABLE} holds an entry that is not an apprise URL (syntax: github.com/caronc/apprise/wiki)"
    notify_type = apprise.NotifyType.SUCCESS if kind == RECOVERY else apprise.NotifyType.FAILURE
    attachment = {"attach": attach} if attach and Path(attach).is_file() else {}  # where the service takes one
    if not notifier.notify(body=body, title=title, notify_type=notify_type, **attachment):
        return f"apprise could not deliver to every one of the {len(notifier)} URLs in {URLS_VARIABLE} (log above)"
    return ""


def report_location(about: Mapping[str, object], verdict_file: Path, environ: Mapping[str, str]) -> str:
    """The CI run's page (its artifacts hold the HTML report), else the report the verdict names."""
    server, repository, run = (environ.get(f"GITHUB_{name}") for name in ("SERVER_URL", "REPOSITORY", "RUN_ID"))
    if server and repository and run:
        return f"{server}/{repository}/actions/runs/{run}"
    return str(about.get("report") or verdict_file.resolve().parent)


def summary(verdict: Verdict, target: Target, outcome: str) -> str:
    """The verdict as Markdown for the CI job's summary page."""
    lines = [f"## Care2 {target.name}: {verdict.state}", "", f"{verdict.reason} ({verdict.tally()})", ""]
    for check in verdict.outcomes:
        if check.red:
            lines.append(f"- **{check.state}** {one_liner(check)}")
        elif check.shaky:
            lines.append(f"- **warning** {check.label}: {'; '.join(check.warnings + check.retried)}")
    lines += ["", f"Alerts: {outcome}", ""]
    return "\n".join(lines)


def handle(verdict: Verdict, target: Target, environ: Mapping[str, str], report: str,
           attach: str = "") -> tuple[str, bool]:
    """Update the streak and send what is due, with the report file ``attach`` where the service takes
    attachments: (what happened, in one line; whether it went well)."""
    state_file = StateFile(target.alerts.state_file)
    before = state_file.get(target.name)
    after, kind = next_streak(before, verdict.state, target.alerts)
    if not kind:
        state_file.put(target.name, after)
        return _quiet_reason(verdict, after, target.alerts), True
    problem = urls_missing(environ) or send(environ[URLS_VARIABLE], *message(kind, verdict, target, after, report),
                                            kind, attach)
    if problem:  # keep "not yet told", so the next run tries again
        state_file.put(target.name, Streak(after.failures, before.alerted))
        return f"{kind} due but not sent: {problem}", False
    state_file.put(target.name, after)
    return f"{kind} sent", True


def _quiet_reason(verdict: Verdict, streak: Streak, settings: Alerts) -> str:
    if verdict.state == COULD_NOT_CHECK:
        return f"none: the target was not judged ({verdict.reason})"
    if verdict.state != NO_GO:
        return "none: the target is fine"
    if streak.alerted:
        return f"none: already sent for this run of {streak.failures} failures"
    return f"none yet: {streak.failures} of {settings.after_failures} failed runs in a row"


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="python -m smoke.alerts", description=__doc__.splitlines()[0])
    parser.add_argument("verdict_file", type=Path, help="the verdict the run wrote (reports/verdict.json)")
    parser.add_argument("--env", help="environment (default: the one the verdict names, else env SMOKE_ENV)")
    parser.add_argument("--env-file", default=environ.get("SMOKE_ENV_FILE") or None,
                        help="environments file laid over the bundled one (env SMOKE_ENV_FILE)")
    args = parser.parse_args(argv)
    try:
        text = args.verdict_file.read_text(encoding="utf-8")
        verdict, about = from_json(text), json.loads(text).get("about") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        print(f"alerts: no usable verdict in {args.verdict_file} ({error}): the run did not finish; "
              "see the test step's output. Nothing sent, failure count unchanged.", file=sys.stderr)
        return 1
    judged = about.get("environment")
    name = args.env or judged or environ.get("SMOKE_ENV", "local")
    if judged and judged != name:
        print(f"alerts: {args.verdict_file} is about {judged!r}, not {name!r}", file=sys.stderr)
        return 2
    try:
        target = load_target(name, args.env_file, environ)
    except TargetError as error:
        print(f"alerts: {error}", file=sys.stderr)
        return 2
    try:
        outcome, ok = handle(verdict, target, environ, report_location(about, args.verdict_file, environ))
    except OSError as error:
        print(f"alerts: the alert state cannot be kept: {os_problem(error)} (alerts.state_file)", file=sys.stderr)
        return 4
    print(f"{target.name}: {verdict.headline()}\nalerts: {outcome}")
    if environ.get("GITHUB_STEP_SUMMARY"):
        with open(environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as page:
            page.write(summary(verdict, target, outcome))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
