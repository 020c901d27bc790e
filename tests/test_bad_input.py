"""Bad input at run time is one clear line in the check it breaks, and a red exit, never a traceback or a hang.

(Bad environments files and names are in test_target.py: they stop the run with a usage error.)
"""

import socket
import sys

import pytest

from smoke.probes.http import Client, NoAnswer


def nowhere(tmp_path, unused_port, **extra: str) -> str:
    """An env file for a target where nothing listens, with ``extra`` lines in its table."""
    lines = [
        "[environments.nowhere]", 'kind = "local"',
        f'site_url = "http://127.0.0.1:{unused_port}"', f'api_url = "http://127.0.0.1:{unused_port}"',
        *[f"{key} = {value}" for key, value in extra.items()],
    ]
    path = tmp_path / "nowhere.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_unresolvable_host_is_named_as_such(monkeypatch):
    def no_such_host(*args, **kwargs):  # no lookup may leave this machine, so the resolver says no here
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(NoAnswer) as failure:
        Client(connect=1, read=1, retry_delay=0).get("http://api.care2connect.invalid/health/live")
    assert failure.value.kind == "dns" and failure.value.attempts == 1
    assert "host name does not resolve" in str(failure.value)


def test_missing_chromium_says_how_to_install_one(tmp_path, unused_port, run_predemo, monkeypatch):
    monkeypatch.setenv("SMOKE_CHROMIUM", str(tmp_path / "no-chromium"))
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "browser")
    state, message = run.outcomes["tell_your_story_walk"]
    assert state in ("failed", "error")
    assert "no-chromium does not exist" in message and "apt-get install chromium" in message
    assert "Traceback" not in run.output


def test_missing_pm2_is_a_red_processes_check(tmp_path, unused_port, run_predemo):
    env_file = nowhere(tmp_path, unused_port)
    with open(env_file, "a") as extra:
        extra.write(f'[environments.nowhere.pm2]\ncommand = ["{tmp_path}/no-pm2", "jlist"]\n')
    run = run_predemo(env_file, "nowhere", "host")
    state, message = run.outcomes["processes"]
    assert state == "failed" and "PM2 is not installed" in message, message
    assert "Traceback" not in run.output


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "does not exist"), ("ingress: [unclosed\n", "is not valid YAML")],
    ids=["missing", "malformed"],
)
def test_an_unreadable_cloudflared_config_is_named(tmp_path, unused_port, run_predemo, content, says):
    config = tmp_path / "config.yml"
    if content is not None:
        config.write_text(content)
    env_file = nowhere(tmp_path, unused_port)
    with open(env_file, "a") as extra:
        extra.write(f'[environments.nowhere.tunnel]\nconfig = "{config}"\n')
    run = run_predemo(env_file, "nowhere", "host")
    messages = " ".join(message for _, message in run.outcomes.values())
    assert f"cloudflared config {config} {says}" in messages, run.output
    assert "Traceback" not in run.output


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
def test_everything_down_is_no_go(tmp_path, unused_port, run_predemo):
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "predemo and not browser")
    assert run.red() >= {"site_reachable", "api_health", "database"}
    assert "NO-GO" in run.output


def test_a_teardown_that_raises_at_the_end_still_leaves_the_verdict(tmp_path, unused_port, run_predemo, monkeypatch):
    """A hook of the session's end that raises (as a browser's teardown may after Ctrl-C) costs the page, never
    the verdict that watch and CI read."""
    (tmp_path / "breaks_at_the_end.py").write_text(
        "def pytest_sessionfinish(session):\n    raise RuntimeError('the browser connection is gone')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "predemo and not browser", "-p", "breaks_at_the_end")
    assert run.verdict.state == "NO-GO", run.output


def test_a_malformed_mark_expression_is_one_line_and_exit_4(tmp_path, unused_port, run_predemo):
    run = run_predemo(nowhere(tmp_path, unused_port), "nowhere", "predemo and (")
    assert run.returncode == 4 and "Traceback" not in run.output, run.output
    assert "Wrong expression passed to '-m': predemo and (" in run.output
