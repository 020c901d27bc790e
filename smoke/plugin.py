"""The pytest side of the suite: options, markers, the target, skips.

Every knob is a fixture a project can override by name in its conftest.py: ``target``,
``http``, ``check``.
"""

# The imports follow gc.disable(), below.
# ruff: noqa: E402

from __future__ import annotations

import gc

# Loading the suite (pydantic, httpx, Beautiful Soup, Jinja2...) makes objects that live as long as the run: the garbage
# collector walked them some fifty times while they loaded (0.04 CPU s, 8% of a run without the walk). It rests from
# here until the session starts (pytest_sessionstart freezes what is loaded, then wakes it).
gc.disable()

import functools
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _pytest.mark.expression import Expression  # what -m uses; pytest is pinned

from .browser import NoBrowser, find_chromium
from .check import Check
from .evidence import Evidence
from .folders import writable
from .keys import FIXES_KEY, HTTP_OBSERVERS_KEY, INCIDENT_KEY, RUNNER_PROBLEM_KEY, SCREENSHOTS_KEY, TARGET_KEY
from .probes.http import Client
from .probes.runner import runner_problem
from .probes.tls import trust
from .redact import Redactor
from .target import Target, TargetError, chosen_environment, chosen_environment_file, load_target
from .text import os_problem

if TYPE_CHECKING:
    from .probes.log_signs import HostLogs
    from .probes.logs import Source
    from .probes.pm2 import Jlist, PM2Error

# The presenter's report (verdict, checklist, HTML/JUnit/verdict files): smoke/report/, registered here.
# The one way the two meet: smoke.report never imports smoke.plugin; they share smoke.keys.
pytest_plugins = ["smoke.report"]

MARKERS = {
    "predemo": "the pre-demo set: run thirty minutes before a demo and by the hourly CI job",
    "local": "applies to the demo host's own services (environment kind 'local')",
    "production": "applies to the public production site (environment kind 'production')",
    "host": "must run on the machine that hosts the app: reads its ports and processes",
    "browser": "drives Chromium through the demo",
    "writes": "creates data on the target (a story ticket); only where the environment allows writes",
}
ENVIRONMENT_MARKERS = ("local", "production")
WALK_MARKS = {"predemo", "browser"}  # smoke/checks/test_walk.py's
PLAYWRIGHT_PLUGIN = "pytest_playwright.pytest_playwright"
SCRATCH_KEY = pytest.StashKey[str]()  # pytest-playwright's output folder when the user named none
PM2_LIST_KEY = pytest.StashKey[Future]()  # `pm2 jlist`, read once: from the run's start where host checks run
LOG_MARKS_KEY = pytest.StashKey[Future]()  # the Care2 logs and their sizes as the run starts, read after PM2's list
HOST_LOGS_KEY = pytest.StashKey["HostLogs"]()  # those logs, read when first asked
RUN_STARTED_KEY = pytest.StashKey[float]()
# The HTTP client's trusted CAs, read from configure on, on a thread: OpenSSL reads them (a twentieth of a second)
# without Python's lock, beside the rest of pytest's start.
TRUST_KEY = pytest.StashKey[Future]()
FAKE_MICROPHONE = Path(__file__).with_name("audio") / "story.wav"  # package data: installed with the suite
# Without these Chromium phones home at start (updates, sync, safe browsing): noise, and refused offline.
QUIET_CHROMIUM = ["--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--disable-default-apps"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("care2", "Care2 pre-demo checks")
    group.addoption(
        "--env",
        default=chosen_environment(),
        help="environment to check, from the environments file (default: local; env SMOKE_ENV)",
    )
    group.addoption(
        "--env-file",
        default=chosen_environment_file(),
        help="environments file laid over the bundled one (env SMOKE_ENV_FILE)",
    )
    group.addoption(
        "--allow-writes",
        action="store_true",
        default=False,
        help="let the walk submit a story even where the environment forbids writes",
    )
    group.addoption(
        "--first-blocker-only",
        action="store_true",
        default=False,
        help="stop the walk at its first blocker instead of working around it (in its own browser) to find the next",
    )


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """pytest-playwright, and with it Playwright (a fifth of the start-up), only for a run that may walk.

    pyproject blocks its entry point (``-p no:playwright``); this loads it while its options can still be
    added: when the walk is not deselected by ``-m``, or an option we do not know may be one of its own.
    """
    manager = early_config.pluginmanager
    if manager.has_plugin("playwright") or not manager.is_blocked("playwright"):
        return  # its entry point loaded it, or will
    _, unknown = parser.parse_known_and_unknown_args(args)
    if _walk_may_run(early_config.known_args_namespace.markexpr) or any(arg.startswith("-") for arg in unknown):
        manager.import_plugin(PLAYWRIGHT_PLUGIN)
        # registered during this very hook, it missed it: its own part of it (--base-url) is called now
        others = [plugin for plugin in manager.get_plugins() if plugin is not manager.get_plugin(PLAYWRIGHT_PLUGIN)]
        manager.subset_hook_caller("pytest_load_initial_conftests", others)(
            early_config=early_config, args=args, parser=parser)


def _walk_may_run(markexpr: str) -> bool:
    if not markexpr:
        return True
    try:
        return Expression.compile(markexpr).evaluate(lambda name, **_: name in WALK_MARKS)
    except SyntaxError:  # what Expression.compile raises for a malformed -m
        return True  # pytest says what is wrong with the expression, with the plugin or without


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    config.pluginmanager.register(WalkBrowser(), "care2_smoke_browser")
    if config.inipath is None:
        # pytest picks its root from path-like arguments before it knows our options, so a
        # separate "--env-file /elsewhere/x.toml" moves the root away from this project.
        raise pytest.UsageError(
            f"pytest found no project settings (root {config.rootpath}): run from the project folder "
            "and write --env-file=PATH as one word (or set SMOKE_ENV_FILE), or run care2-predemo from any folder"
        )
    try:
        config.stash[TARGET_KEY] = load_target(config.getoption("env"), config.getoption("env_file"))
    except TargetError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[RUN_STARTED_KEY] = time.time()
    reader = ThreadPoolExecutor(max_workers=1)
    config.stash[TRUST_KEY] = reader.submit(trust, config.stash[TARGET_KEY].tls.ca_file)
    reader.shutdown(wait=False)  # the http fixture waits for it
    if config.stash[TARGET_KEY].host_checks:
        config.stash[INCIDENT_KEY] = lambda: _incident_facts(config)
    _keep_walk_traces(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    """What is loaded by now (pytest, pydantic, httpx, Jinja2...) lives as long as the run: the garbage collector
    skips it from here on, so that its collections during the run stay quick, and works again."""
    gc.freeze()
    gc.enable()


def _keep_walk_traces(config: pytest.Config) -> None:
    """A failed walk keeps its Playwright trace (the report links a scrubbed copy).

    pytest-playwright empties its --output folder at every start, so by default it gets a fresh
    scratch folder of its own rather than test-results/ in the user's project.
    """
    if config.getoption("tracing", None) == "off":
        config.option.tracing = "retain-on-failure"
    output = config.getoption("output", None)
    if output not in (None, "test-results"):  # the user's own folder
        writable(Path(config.invocation_params.dir, output), "the walk's folder for traces and screenshots (--output)",
                 "give another with --output")
    elif output == "test-results":
        try:
            config.option.output = config.stash[SCRATCH_KEY] = tempfile.mkdtemp(prefix="care2-playwright-")
        except OSError as error:
            raise pytest.UsageError(f"no temporary folder for the walk's traces and screenshots: {os_problem(error)} "
                                    "(set TMPDIR, or TEMP on Windows, to a writable folder)") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    gc.freeze()  # and the run's own objects: the exit then skips a last walk over the whole heap
    scratch = config.stash.get(SCRATCH_KEY, None)
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before blaming the target, prove this machine's network works (runner.reference_url).

    PM2's list is asked for now, in the background, so that it is there when the host checks come.
    """
    if not _checks_target(session):
        return
    target = session.config.stash[TARGET_KEY]
    session.config.stash[RUNNER_PROBLEM_KEY] = runner_problem(target)
    if target.host_checks and target.pm2.apps and any(item.get_closest_marker("host") for item in session.items):
        reader = ThreadPoolExecutor(max_workers=1)
        listing = session.config.stash[PM2_LIST_KEY] = reader.submit(_pm2_list, target)
        # what the logs hold by now is older than this run: a red line quotes what comes after
        session.config.stash[LOG_MARKS_KEY] = reader.submit(_log_marks, target, listing)
        reader.shutdown(wait=False)  # the reads go on; the pm2_list fixture waits for them


def _pm2_list(target: Target) -> Jlist | PM2Error:
    from .probes.pm2 import PM2Error, read_jlist  # psutil and the rest: only for a run with host checks

    try:
        return read_jlist(target.pm2.command, target.pm2.timeout)
    except PM2Error as error:
        return error


def _pm2_list_once(config: pytest.Config) -> Jlist | PM2Error | None:
    """PM2's list, read once a run (Node's start is slow): asked as the run starts where host checks run, else when
    first needed (a red line's evidence, then the incident bundle); None where PM2 is not used."""
    target = config.stash[TARGET_KEY]
    if not target.pm2.apps:
        return None
    if PM2_LIST_KEY not in config.stash:
        read = config.stash[PM2_LIST_KEY] = Future()
        read.set_result(_pm2_list(target))
    return config.stash[PM2_LIST_KEY].result()


def _log_sources(target: Target, listing: Jlist | PM2Error | None) -> list[Source]:
    from .probes import cloudflared, logs, pm2

    return logs.sources(target, pm2.apps_of(listing), cloudflared.care2_tunnels(target.tunnel.name))


def _log_marks(target: Target, listing: Future) -> tuple[list[Source], dict]:
    from .probes import logs

    found = _log_sources(target, listing.result())
    return found, logs.mark(source.path for source in found)


def read_host_logs(config: pytest.Config) -> HostLogs:
    """The Care2 apps' logs for this run (host checks only), located and read once, when first asked."""
    if HOST_LOGS_KEY not in config.stash:
        from .probes.log_signs import HostLogs

        target = config.stash[TARGET_KEY]
        started = config.stash.get(LOG_MARKS_KEY, None)
        if started is not None:
            found, marks = started.result()
        else:  # no host check in this run: the logs are placed in it by their times
            found, marks = _log_sources(target, _pm2_list_once(config)), None
        config.stash[HOST_LOGS_KEY] = HostLogs(found, marks, config.stash[RUN_STARTED_KEY], Redactor(target.secrets))
    return config.stash[HOST_LOGS_KEY]


def _incident_facts(config: pytest.Config) -> dict[str, str]:
    from .probes import incident

    return incident.gather(config.stash[TARGET_KEY], _pm2_list_once(config), read_host_logs(config))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A check failed: was it the network dropping mid-run? Asked before the report reads the stash."""
    if session.testsfailed and _checks_target(session) and not session.config.stash.get(RUNNER_PROBLEM_KEY, ""):
        session.config.stash[RUNNER_PROBLEM_KEY] = runner_problem(session.config.stash[TARGET_KEY])


def _checks_target(session: pytest.Session) -> bool:
    """This run checks the target (the suite's own tests and --collect-only do not)."""
    return not session.config.option.collectonly and any(item.get_closest_marker("predemo") for item in session.items)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check that does not apply here is skipped with its reason, never passed."""
    if problem := item.config.stash.get(RUNNER_PROBLEM_KEY, ""):
        pytest.skip(f"could not check: {problem}")
    target = item.config.stash[TARGET_KEY]
    kinds = [name for name in ENVIRONMENT_MARKERS if item.get_closest_marker(name)]
    if kinds and target.kind not in kinds:
        pytest.skip(f"applies to {' / '.join(kinds)} environments; {target.name} is {target.kind}")
    if item.get_closest_marker("host") and not target.host_checks:
        pytest.skip(f"host check: the {target.name} environment is not checked from this machine (host_checks = false)")
    if item.get_closest_marker("writes") and not _writes_allowed(item.config):
        pytest.skip(f"would create data on {target.name}; allow with --allow-writes or allow_writes = true")


def _writes_allowed(config: pytest.Config) -> bool:
    return config.getoption("allow_writes") or config.stash[TARGET_KEY].allow_writes


@pytest.fixture(scope="session")
def writes_allowed(pytestconfig: pytest.Config) -> bool:
    """The run may create data on the target: ``--allow-writes``, or the environment's ``allow_writes``."""
    return _writes_allowed(pytestconfig)


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The environment under check (``--env``, ``--env-file``)."""
    return pytestconfig.stash[TARGET_KEY]


@pytest.fixture(scope="session")
def http(target: Target, pytestconfig: pytest.Config):
    """One HTTP client for the run, with the target's time budgets, trusted CAs and the test header.

    What the HTTP checks read first is asked at once, on a thread: a check waits only for the answers it reads."""
    client = Client.with_budgets(target.budgets, verify=pytestconfig.stash[TRUST_KEY].result())
    client.observers.extend(pytestconfig.stash.get(HTTP_OBSERVERS_KEY, []))
    paths = target.paths
    client.prefetch([target.site("/"), target.site(paths.story_page), target.site(paths.rewrite_probe),
                     target.site(paths.papi_probe), target.api(paths.api_live), target.api(paths.api_db),
                     target.api(paths.api_status)], wait=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def pm2_list(pytestconfig: pytest.Config) -> Jlist | PM2Error | None:
    """PM2's list, read once: a Jlist, the PM2Error that kept it from being read, or None where PM2 is not used."""
    return _pm2_list_once(pytestconfig)


@pytest.fixture(scope="session")
def host_logs(pytestconfig: pytest.Config) -> HostLogs:
    """The Care2 apps' logs on this host (for the host checks' signs), read once."""
    return read_host_logs(pytestconfig)


@pytest.fixture(scope="session")
def evidence(target: Target, pytestconfig: pytest.Config) -> Evidence:
    """What explains a red line on the demo host, per role: providers (role) -> lines, asked only when a check
    fails. Another kind of evidence is one more provider in this list."""
    if not target.host_checks:
        return Evidence()
    return Evidence([lambda role: read_host_logs(pytestconfig).evidence(role)])


@pytest.fixture(scope="session")
def local_path(target: Target, http: Client):
    """The path on this host (smoke/probes/path), walked once when first asked: a callable giving its LocalPath."""

    @functools.cache
    def walked():
        from .probes import path  # psutil and the rest: only for a run with host checks

        return path.walk_all(target, http)

    return walked


@pytest.fixture
def check(http: Client, target: Target, evidence: Evidence, request: pytest.FixtureRequest, local_path) -> Check:
    """The conditions of the running check; its result line goes to the report. On the host that runs the app, an
    edge's or proxy's error page is told where on this host the path breaks."""

    def behind(url: str) -> str:
        from .probes import path

        return path.behind(target, local_path().walked, url)

    current = Check(http, target.expect.backend_welcome_title, evidence, behind if target.host_checks else None)
    yield current
    if current.result:
        request.node.user_properties.append(("result", current.result))
    for line in current.retried:
        request.node.user_properties.append(("retried", line))
    for line in current.warnings:
        request.node.user_properties.append(("warning", line))
    for line in current.judged_at:
        request.node.user_properties.append(("judged_at", line))
    request.node.stash[FIXES_KEY] = current.fixes
    if current.timings:
        request.node.user_properties.append(("timings", current.timings))


class WalkBrowser:
    """Our layer over pytest-playwright's fixtures of the same names.

    Registered in pytest_configure, after every entry-point plugin, so that these win over
    pytest-playwright's own and can still build on them.
    """

    @pytest.fixture(scope="session")
    def browser_type_launch_args(self, browser_type_launch_args: dict, browser_type, target: Target) -> dict:
        """pytest-playwright's launch options plus our Chromium, a fake microphone and the target's flags."""
        try:
            executable = find_chromium(browser_type.executable_path)
        except NoBrowser as error:
            missing = str(error)
        else:
            missing = ""
        if missing:  # failing outside the except keeps the message free of a chained traceback
            pytest.fail(missing, pytrace=False)
        args = [*QUIET_CHROMIUM, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={FAKE_MICROPHONE}", *target.chromium_args]
        return {**browser_type_launch_args, "executable_path": str(executable), "args": args}

    @pytest.fixture(scope="session")
    def browser_context_args(self, browser_context_args: dict) -> dict:
        """A context that may use the (fake) microphone, as the presenter's browser will after 'Allow'."""
        return {**browser_context_args, "permissions": ["microphone"], "viewport": {"width": 1280, "height": 800}}


@pytest.fixture
def walk_screenshots(request: pytest.FixtureRequest) -> list[tuple[str, bytes]]:
    """(caption, PNG) of each step of a browser walk, for the report."""
    shots: list[tuple[str, bytes]] = []
    request.node.stash[SCREENSHOTS_KEY] = shots
    return shots
