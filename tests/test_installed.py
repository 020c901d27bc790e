"""care2-predemo from any folder: the installed command carries its checks, settings and fake microphone.

The presenter's terminal is wherever it is: the verdict must not depend on it, reports go to ./reports
there, and --env-file is read from there. Proven with the venv's own command (an editable install) and
with the wheel that `pip install .` and `pipx install .` build, installed into a venv of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from test_cli import SCRIPT

from conftest import ROOT

# What a run reads from the package, wherever it is installed (smoke/installed.py, smoke/plugin.py).
RUN_NEEDS = {"smoke/pyproject.toml", "smoke/environments.toml", "smoke/audio/story.wav", "smoke/checks/test_web.py",
             "smoke/checks/test_host.py", "smoke/checks/test_tls.py", "smoke/checks/test_walk.py",
             "smoke/report/templates/report.css", "smoke/report/templates/top.html.jinja"}


def predemo(script: str, folder: Path, *args: str, **variables: str) -> tuple[dict[str, object], str]:
    """``script`` run in ``folder`` as the presenter would (no SMOKE_* variable of ours: reports go to ./reports
    there unless ``variables`` say otherwise): GO or not and each check's state, from the verdict file, and the red
    lines' messages (to show). A warning (a request retried on a loaded machine) is the machine's, not the
    folder's, so GO WITH WARNINGS counts as GO."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("SMOKE_")} | variables
    done = subprocess.run([script, *args], cwd=folder, capture_output=True, text=True, timeout=240, env=environ)
    verdict = Path(folder, variables.get("SMOKE_REPORTS_DIR", "reports"), "verdict.json")
    said = done.stdout + done.stderr
    assert verdict.is_file() and done.returncode in (0, 1), f"no verdict in {verdict.parent}:\n{said}"
    written = json.loads(verdict.read_text(encoding="utf-8"))
    states = {outcome["name"]: outcome["state"] for outcome in written["outcomes"]}
    red = "\n".join(outcome["message"] for outcome in written["outcomes"] if outcome["state"] in ("failed", "error"))
    return {"go": written["state"].startswith("GO"), **states}, red


def elsewhere_with_envs(stage, tmp_path: Path) -> Path:
    """A folder outside the checkout holding the stage's env file, given by a relative path."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    shutil.copy(stage.env_file, folder / "my-envs.toml")
    return folder


MARKS = ("-m", "predemo and not browser")


def test_from_another_folder_the_verdict_is_the_same(healthy_stage, tmp_path):
    elsewhere = elsewhere_with_envs(healthy_stage, tmp_path)
    there, there_red = predemo(SCRIPT, elsewhere, "--env-file", "my-envs.toml", *MARKS)
    here, here_red = predemo(SCRIPT, ROOT, f"--env-file={healthy_stage.env_file}", *MARKS,
                   SMOKE_REPORTS_DIR=str(tmp_path / "inside"))
    assert there == here and there["go"], f"from elsewhere: {there}\n{there_red}\ninside: {here}\n{here_red}"
    assert sorted(path.suffix for path in (elsewhere / "reports").glob("predemo-*")) == [".html", ".json", ".xml"]


def build_wheel(folder: Path) -> Path:
    """The wheel that `pip install .` and `pipx install .` install, built as pip builds it (from a copy of what
    the build reads: a build in the checkout would leave its build/ folder there)."""
    source = folder / "source"
    shutil.copytree(ROOT / "smoke", source / "smoke", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = folder.glob("care2_predemo_smoke-*.whl")
    return wheel


def test_the_wheel_carries_what_a_run_needs_and_runs_from_anywhere(healthy_stage, tmp_path):
    wheel = build_wheel(tmp_path / "wheel")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert RUN_NEEDS <= names, f"missing from the wheel: {sorted(RUN_NEEDS - names)}"
    assert not any(name.startswith(("fixtures/", "tests/")) for name in names)
    # Installed as pip installs it, in a venv of its own; its dependencies are this venv's (no download).
    installed = tmp_path / "venv"
    venv.create(installed, with_pip=True)
    python = installed / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    own = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    Path(own, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = shutil.which("care2-predemo", path=str(python.parent))
    elsewhere = elsewhere_with_envs(healthy_stage, tmp_path)
    there, there_red = predemo(script, elsewhere, "--env-file", "my-envs.toml", *MARKS)
    here, here_red = predemo(SCRIPT, ROOT, f"--env-file={healthy_stage.env_file}", *MARKS,
                   SMOKE_REPORTS_DIR=str(tmp_path / "inside"))
    assert there == here and there["go"], f"installed: {there}\n{there_red}\nin the checkout: {here}\n{here_red}"
