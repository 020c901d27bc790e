"""The suite's plugin (smoke/plugin.py) is loaded by the package's pytest11 entry point."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("care2_smoke"):
        raise pytest.UsageError("the suite is not installed in this Python: run scripts/setup (or pip install -e .)")
