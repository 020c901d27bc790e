"""The pytest side of the suite: options, markers, the target, skips.

Every knob is a fixture a project can override by name in its conftest.py: ``target``,
``http``, ``check``.
"""

from __future__ import annotations

import os

import pytest

from .conditions import Check
from .probes.http import Client
from .target import Target, TargetError, load_target

MARKERS = {
    "predemo": "the pre-demo set: run thirty minutes before a demo and by the hourly CI job",
    "local": "applies to the demo host's own services (environment kind 'local')",
    "production": "applies to the public production site (environment kind 'production')",
    "host": "must run on the machine that hosts the app: reads its ports and processes",
    "browser": "drives Chromium through the demo",
    "writes": "creates data on the target (a story ticket); only where the environment allows writes",
}
ENVIRONMENT_MARKERS = ("local", "production")
TARGET_KEY = pytest.StashKey[Target]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("care2", "Care2 pre-demo checks")
    group.addoption(
        "--env",
        default=os.environ.get("SMOKE_ENV", "local"),
        help="environment to check, from the environments file (default: local; env SMOKE_ENV)",
    )
    group.addoption(
        "--env-file",
        default=os.environ.get("SMOKE_ENV_FILE") or None,
        help="environments file laid over the bundled one (env SMOKE_ENV_FILE)",
    )
    group.addoption(
        "--allow-writes",
        action="store_true",
        default=False,
        help="let the walk submit a story even where the environment forbids writes",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    try:
        config.stash[TARGET_KEY] = load_target(config.getoption("env"), config.getoption("env_file"))
    except TargetError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check that does not apply here is skipped with its reason, never passed."""
    target = item.config.stash[TARGET_KEY]
    kinds = [name for name in ENVIRONMENT_MARKERS if item.get_closest_marker(name)]
    if kinds and target.kind not in kinds:
        pytest.skip(f"applies to {' / '.join(kinds)} environments; {target.name} is {target.kind}")
    if item.get_closest_marker("host") and not target.host_checks:
        pytest.skip(f"host check: the {target.name} environment is not checked from this machine (host_checks = false)")
    if item.get_closest_marker("writes") and not writes_allowed(item.config):
        pytest.skip(f"would create data on {target.name}; allow with --allow-writes or allow_writes = true")


def writes_allowed(config: pytest.Config) -> bool:
    return config.getoption("allow_writes") or config.stash[TARGET_KEY].allow_writes


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The environment under check (``--env``, ``--env-file``)."""
    return pytestconfig.stash[TARGET_KEY]


@pytest.fixture(scope="session")
def http(target: Target):
    """One HTTP client for the run, with the target's time budgets and the test header."""
    client = Client(target.budgets.connect, target.budgets.read, target.budgets.retry_delay)
    yield client
    client.close()


@pytest.fixture
def check(http: Client, target: Target, request: pytest.FixtureRequest) -> Check:
    """The conditions of the running check; its result line goes to the report."""
    current = Check(http, target.expect.backend_welcome_title)
    yield current
    if current.result:
        request.node.user_properties.append(("result", current.result))
    for line in current.retried:
        request.node.user_properties.append(("retried", line))
    for line in current.warnings:
        request.node.user_properties.append(("warning", line))
