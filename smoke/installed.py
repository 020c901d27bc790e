"""Where pytest finds the suite's checks and settings, whatever folder care2-predemo runs in.

In the project folder pytest finds them by itself (pyproject.toml, testpaths). Installed with pip or
pipx, the command runs wherever the presenter's terminal is: it names them to pytest, from the package.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKS_DIR = PACKAGE / "checks"
INSTALLED_SETTINGS = PACKAGE / "pyproject.toml"  # the project's, copied in by setup.py at build time


def pytest_args(args: list[str]) -> list[str]:
    """``args`` for pytest, led by the suite's settings and root, and its checks unless ``args`` name tests.

    The root is the package's parent (the checkout, or site-packages): the checks' ids are the same either
    way, and so are the history's. An installed suite keeps pytest's cache out of its install folder.
    """
    settings = INSTALLED_SETTINGS if INSTALLED_SETTINGS.is_file() else PACKAGE.parent / "pyproject.toml"
    lead = ["-c", str(settings), f"--rootdir={PACKAGE.parent}"]
    if settings == INSTALLED_SETTINGS:
        lead += ["-p", "no:cacheprovider"]
    if not any(names_tests(arg) for arg in args):
        lead.append(str(CHECKS_DIR))
    return [*lead, *args]


def names_tests(arg: str) -> bool:
    """``arg`` is a test path or id (``smoke/checks/test_web.py::test_database``), not an option or its value."""
    return not arg.startswith("-") and ("::" in arg or arg.endswith(".py"))
