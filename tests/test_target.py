"""The environments file: loading, layering, overrides, and one clear line for every bad input."""

import subprocess
import sys
from pathlib import Path

import pytest

from smoke.target import TargetError, environment_names, load_target

ROOT = Path(__file__).parent.parent


def test_bundled_environments_match_the_contract():
    local, production = load_target("local", environ={}), load_target("production", environ={})
    assert (local.site_url, local.api_url, local.ports.backend, local.host_checks) == (
        "http://localhost:3000", "http://localhost:3001", 3001, True)
    assert (production.site_url, production.api_url, production.allow_writes) == (
        "https://care2connects.org", "https://api.care2connects.org", False)
    assert load_target("production-ci", environ={}).host_checks is False
    assert production.pm2.apps["backend"] == "careconnect-backend-prod"


def test_a_file_is_laid_over_the_bundled_one(tmp_path):
    extra = tmp_path / "envs.toml"
    extra.write_text('[environments.staging]\nkind = "production"\nsite_url = "http://127.0.0.1:9000"\n'
                     'api_url = "http://127.0.0.1:9001"\n[environments.local.ports]\nbackend = 3002\n')
    assert "staging" in environment_names(extra)
    assert load_target("staging", extra, environ={}).budgets.health == 2.0
    assert load_target("local", extra, environ={}).ports.backend == 3002


def test_an_empty_table_says_none(tmp_path):
    """A machine without PM2: `[environments.local.pm2.apps]` with nothing in it, not the bundled four apps."""
    extra = tmp_path / "envs.toml"
    extra.write_text("[environments.local.pm2.apps]\n[environments.local.ports]\nproxy = 0\n")
    local = load_target("local", extra, environ={})
    assert local.pm2.apps == {} and local.ports.proxy == 0 and local.ports.backend == 3001


def test_single_values_come_from_the_environment():
    target = load_target("local", environ={"SMOKE_PORTS_BACKEND": "3003", "SMOKE_SITE_URL": "http://127.0.0.1:4000",
                                           "SMOKE_ALLOW_WRITES": "false"})
    assert (target.ports.backend, target.site_url, target.allow_writes) == (3003, "http://127.0.0.1:4000", False)


@pytest.mark.parametrize(
    ("content", "environ", "message"),
    [
        (None, {}, "unknown environment 'nowhere'"),
        ("[environments.nowhere\n", {}, "is not valid TOML"),
        ('[environments.nowhere]\nkind = "local"\n', {}, "site_url: missing"),
        ('[environments.nowhere]\nkind = "local"\nsite_url = "localhost:3000"\napi_url = "http://x:1"\n', {},
         "'localhost:3000' is not an absolute http(s) URL"),
        ('[environments.nowhere]\nkind = "local"\nsite_url = "http://a:1"\napi_url = "http://b:99999"\n', {},
         "port out of range"),
        ('[environments.nowhere]\nkind = "mars"\nsite_url = "http://a:1"\napi_url = "http://b:2"\n', {}, "kind"),
        ('[environments.nowhere]\nextends = "elsewhere"\n', {}, "extends unknown environment 'elsewhere'"),
        ('[environments.nowhere]\nkind = "local"\nsite_url = "http://a:1"\napi_url = "http://b:2"\nprots = 1\n',
         {}, "prots: unknown key"),
        ('[environments.nowhere]\nkind = "local"\nsite_url = "http://a:1"\napi_url = "http://b:2"\n',
         {"SMOKE_PORTS_BACKEND": "70000"}, "ports.backend"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(tmp_path, content, environ, message):
    env_file = None
    if content is not None:
        env_file = tmp_path / "envs.toml"
        env_file.write_text(content)
    with pytest.raises(TargetError) as error:
        load_target("nowhere", env_file, environ=environ)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "nowhere"], "unknown environment 'nowhere'"),
        (["--env-file", "/nonexistent/envs.toml"], "environments file not found: /nonexistent/envs.toml"),
    ],
)
def test_the_command_line_says_one_line_and_exits_with_a_usage_error(args, message):
    run = subprocess.run([sys.executable, "-m", "pytest", "-m", "predemo", "-p", "no:cacheprovider", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 4
    assert message in run.stderr and "Traceback" not in run.stderr + run.stdout
    assert len([line for line in run.stderr.splitlines() if line.strip()]) == 1
