"""The runner self-check inside a run: the skips, and the verdict the run writes (COULD NOT CHECK)."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from smoke.verdict import COULD_NOT_CHECK, NO_GO


def run_checks(run_predemo, tmp_path: Path, reference_url: str, unused_port: int):
    """Check (11) against a dead https port, with ``runner.reference_url`` = ``reference_url``."""
    env_file = tmp_path / "envs.toml"
    env_file.write_text(
        f'[environments.prod-stage]\nkind = "production"\nhost_checks = false\n'
        f'site_url = "https://127.0.0.1:{unused_port}"\napi_url = "https://127.0.0.1:{unused_port}"\n'
        f'runner.reference_url = "{reference_url}"\n'
    )
    return run_predemo(env_file, "prod-stage", "predemo", "smoke/checks/test_tls.py", "-rs")


@pytest.fixture
def one_answer_server() -> Iterator[str]:
    """A reference that answers once, then is gone: the runner's network dropping mid-run."""
    server = HTTPServer(host="127.0.0.1", port=0)

    def answer_then_go(request: Request) -> Response:
        threading.Thread(target=server.stop).start()  # it stops once this answer is out
        return Response(status=204)

    server.expect_oneshot_request("/generate_204").respond_with_handler(answer_then_go)
    server.start()
    yield server.url_for("/generate_204")
    if server.is_running():
        server.stop()


def test_dead_runner_network_skips_every_check_as_could_not_check(run_predemo, tmp_path, unused_port):
    run = run_checks(run_predemo, tmp_path, f"http://127.0.0.1:{unused_port}/generate_204", unused_port)
    assert run.verdict.state == COULD_NOT_CHECK
    assert run.returncode != 0, "a run that judged nothing must not exit as a pass"
    assert run.verdict.reason.startswith("this machine's own network does not work: GET http://127.0.0.1:")
    assert "connection refused" in run.verdict.reason and "prod-stage was not judged" in run.verdict.reason
    assert run.outcomes["tls_certificates"][0] == "skipped"
    assert "could not check: this machine's own network does not work" in run.message("tls_certificates")


def test_network_dropping_mid_run_is_found_before_blaming_the_target(run_predemo, tmp_path, unused_port,
                                                                      one_answer_server):
    run = run_checks(run_predemo, tmp_path, one_answer_server, unused_port)
    assert run.red() == {"tls_certificates"}  # the check ran: the network worked when the run started
    assert run.verdict.state == COULD_NOT_CHECK and "own network does not work" in run.verdict.reason


def test_working_runner_network_leaves_the_verdict_to_the_checks(run_predemo, tmp_path, unused_port, recorder):
    run = run_checks(run_predemo, tmp_path, f"{recorder.url}/generate_204", unused_port)
    assert run.verdict.state == NO_GO and run.red() == {"tls_certificates"}
    assert [request.path for request in recorder.requests] == ["/generate_204", "/generate_204"]  # start, end
