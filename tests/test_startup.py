"""A run loads what its selected checks need and no more: start-up is most of a run without the walk
(how fast it is, is tools/benchmark.py's to say)."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT

RECORDER = """
import sys

def pytest_unconfigure(config):
    with open({out!r}, "w") as modules:
        hooks = ["import-hook:" + type(hook).__name__ for hook in sys.meta_path]
        modules.write("\\n".join([*sorted(sys.modules), *hooks]))
"""


COLLECTIONS_RECORDER = """
import gc
import sys

import pytest

while_loading = []  # the garbage collections from the suite's plugin's import on
gc.callbacks.append(lambda phase, info: phase == "start" and "smoke.plugin" in sys.modules and while_loading.append(1))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    with open({out!r}, "w") as out:
        out.write(str(len(while_loading)))


def pytest_unconfigure(config):
    with open({out!r}, "a") as out:
        out.write(" " + str(gc.isenabled()))
"""


def collect_only(tmp_path, recorder: str, *args: str) -> str:
    """What ``recorder`` (a plugin's source, writing {out}) wrote in a collect-only run with ``args``."""
    out = tmp_path / "recorded.txt"
    (tmp_path / "run_recorder.py").write_text(recorder.format(out=str(out)))
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "run_recorder",
                    "-p", "no:cacheprovider", *args], cwd=ROOT, capture_output=True, timeout=120, check=False,
                   env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    return out.read_text()


def loaded(tmp_path, *args: str) -> set[str]:
    """The modules a collect-only run with ``args`` has imported by its end, and its import hooks."""
    return set(collect_only(tmp_path, RECORDER, *args).split())


@pytest.mark.parametrize("marks", ["predemo and not browser", "predemo and not browser and not host", "host"])
def test_a_run_without_the_walk_never_imports_playwright(tmp_path, marks):
    modules = loaded(tmp_path, "-m", marks)
    assert "smoke.plugin" in modules
    assert not {name for name in modules if "playwright" in name}


@pytest.mark.parametrize("args", [("-m", "predemo"), (), ("-m", "predemo and not browser", "--headed")],
                         ids=["predemo", "everything", "an option of pytest-playwright's"])
def test_a_run_that_may_walk_has_pytest_playwright(tmp_path, args):
    assert "pytest_playwright.pytest_playwright" in loaded(tmp_path, *args)


def test_the_checks_do_not_rewrite_asserts_but_the_self_tests_do(tmp_path):
    """The checks speak through check.fail() and fix lines; rewriting them costs a third of the start-up."""
    rewriting = "import-hook:AssertionRewritingHook"
    assert rewriting not in loaded(tmp_path, "-m", "predemo and not browser")
    assert rewriting in loaded(tmp_path, "tests/test_startup.py")


def test_a_run_without_host_checks_never_loads_what_reads_the_host(tmp_path):
    """psutil, PyYAML and python-dotenv serve the host checks only (each imports its probes when it runs)."""
    modules = loaded(tmp_path, "-m", "predemo and not browser and not host")
    assert "smoke.plugin" in modules
    assert not modules & {"psutil", "yaml", "dotenv", "smoke.probes.pm2", "smoke.probes.ports"}


def test_the_garbage_collector_rests_while_the_suite_loads_and_works_in_the_run(tmp_path):
    """What loads (pydantic, httpx, Jinja2...) lives as long as the run: no collection walks it while it loads."""
    assert collect_only(tmp_path, COLLECTIONS_RECORDER, "-m", "predemo and not browser").split() == ["0", "True"]


def test_soup_sieve_loads_only_when_a_selector_is_used(tmp_path):
    """Beautiful Soup's CSS selectors (Soup Sieve: a twentieth of a second of patterns) wait for their first use;
    a .select() elsewhere in the same process works as before."""
    assert "soupsieve.css_parser" not in loaded(tmp_path, "-m", "predemo and not browser and not host")
    selecting = ("import sys, smoke.probes.pages, bs4; assert 'soupsieve.css_parser' not in sys.modules; "
                 "print(bs4.BeautifulSoup('<p><b>x</b></p>', 'html.parser').select('p > b')[0].text)")
    ran = subprocess.run([sys.executable, "-c", selecting], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "x\n", "")
