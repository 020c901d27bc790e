"""The runner self-check inside a run: the skips, and the verdict the run writes (COULD NOT CHECK)."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

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


def one_answer_server() -> str:
    """A reference that answers once, then is gone: the runner's network dropping mid-run."""

    class Once(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Once)

    def answer_once_then_close():
        server.handle_request()
        server.server_close()

    threading.Thread(target=answer_once_then_close, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/generate_204"


def test_dead_runner_network_skips_every_check_as_could_not_check(run_predemo, tmp_path, unused_port):
    run = run_checks(run_predemo, tmp_path, f"http://127.0.0.1:{unused_port}/generate_204", unused_port)
    assert run.verdict.state == COULD_NOT_CHECK
    assert run.returncode != 0, "a run that judged nothing must not exit as a pass"
    assert run.verdict.reason.startswith("this machine's own network does not work: GET http://127.0.0.1:")
    assert "connection refused" in run.verdict.reason and "prod-stage was not judged" in run.verdict.reason
    assert run.outcomes["tls_certificates"][0] == "skipped"
    assert "could not check: this machine's own network does not work" in run.message("tls_certificates")


def test_network_dropping_mid_run_is_found_before_blaming_the_target(run_predemo, tmp_path, unused_port):
    run = run_checks(run_predemo, tmp_path, one_answer_server(), unused_port)
    assert run.red() == {"tls_certificates"}  # the check ran: the network worked when the run started
    assert run.verdict.state == COULD_NOT_CHECK and "own network does not work" in run.verdict.reason


def test_working_runner_network_leaves_the_verdict_to_the_checks(run_predemo, tmp_path, unused_port, recorder):
    run = run_checks(run_predemo, tmp_path, f"{recorder.url}/generate_204", unused_port)
    assert run.verdict.state == NO_GO and run.red() == {"tls_certificates"}
    assert [request.path for request in recorder.requests] == ["/generate_204", "/generate_204"]  # start, end
