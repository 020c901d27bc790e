"""TLS: the certificate probe and check (11) against loopback HTTPS servers with a local CA (trustme),
and the whole production-like run against the stage's edge over HTTPS (Stage(tls_days=N))."""

import ssl
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixtures.stage import Stage
from smoke.probes.http import NoAnswer
from smoke.probes.tls import read_certificate
from smoke.verdict import GO, GO_WITH_WARNINGS, NO_GO, Verdict
from tests.conftest import serving

trustme = pytest.importorskip("trustme", reason="trustme is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def leaf(ca, days: float, name: str = "127.0.0.1"):
    """A certificate for ``name`` that expires ``days`` from now (negative: expired that long ago)."""
    now = datetime.now(UTC)
    return ca.issue_cert(name, not_before=now - timedelta(days=30), not_after=now + timedelta(days=days))


@contextmanager
def https_server(certificate):
    """An HTTPS server on 127.0.0.1 presenting ``certificate``; yields its origin."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    with serving({}, ssl_context=context) as port:
        yield f"https://127.0.0.1:{port}"


def test_probe_reads_expiry_and_issuer(ca, ca_file):
    with https_server(leaf(ca, 60)) as origin:
        certificate = read_certificate(origin, timeout=3, ca_file=ca_file)
    assert certificate.problem == ""
    assert 59.9 < certificate.days_left() <= 60
    assert "trustme" in certificate.issuer
    assert certificate.describe().startswith(f"127.0.0.1:{origin.rsplit(':', 1)[1]} certificate valid until ")


@pytest.mark.parametrize(
    ("case", "reason"),
    [("expired", "expired"), ("wrong name", "mismatch"), ("unknown CA", "unable to get local issuer")],
)
def test_probe_names_why_a_certificate_does_not_verify(ca, ca_file, case, reason):
    certificate = {
        "expired": lambda: leaf(ca, -1),
        "wrong name": lambda: leaf(ca, 60, name="demo.invalid"),
        "unknown CA": lambda: leaf(trustme.CA(), 60),
    }[case]()
    with https_server(certificate) as origin:
        seen = read_certificate(origin, timeout=3, ca_file=ca_file)
    assert reason in seen.problem.lower()
    assert seen.days_left() is None and "does not verify" in seen.describe()


def test_probe_without_a_listener_is_no_answer(unused_port):
    with pytest.raises(NoAnswer) as raised:
        read_certificate(f"https://127.0.0.1:{unused_port}", timeout=3)
    assert raised.value.kind == "refused" and "connection refused" in str(raised.value)


def run_check(run_predemo, tmp_path, site_url: str, ca_file: str = "") -> Verdict:
    """Check (11) in its own pytest run against ``site_url``: the run's verdict."""
    env_file = tmp_path / "envs.toml"
    trusted = Path(ca_file).as_posix() if ca_file else ""
    env_file.write_text(
        f'[environments.tls-stage]\nkind = "production"\nhost_checks = false\n'
        f'site_url = "{site_url}"\napi_url = "{site_url}"\ntls.ca_file = "{trusted}"\n'
    )
    return run_predemo(env_file, "tls-stage", "predemo", "smoke/checks/test_tls.py").verdict


@pytest.mark.parametrize(("days", "verdict", "state", "warned"), [(2, NO_GO, "failed", False),
                                                                  (10, GO_WITH_WARNINGS, "passed", True),
                                                                  (60, GO, "passed", False)])
def test_check_fails_within_3_days_warns_within_14(ca, ca_file, run_predemo, tmp_path, days, verdict, state, warned):
    with https_server(leaf(ca, days)) as origin:
        seen = run_check(run_predemo, tmp_path, origin, ca_file)
    [outcome] = seen.outcomes
    assert (seen.state, outcome.state) == (verdict, state)
    assert bool(outcome.warnings) == warned
    if state == "failed":
        assert "expected more than 3 days left, got 2.0 days" in outcome.message
    else:
        assert "certificate valid until" in outcome.result
    if warned:
        assert "expires within 14 days" in outcome.warnings[0]


def test_check_fails_on_a_certificate_browsers_refuse(ca, ca_file, run_predemo, tmp_path):
    """Invalid is a failure, not a warning: the issue groups it with the warnings, but a browser shows an
    interstitial for an expired, misnamed or unknown certificate, and the demo stops there."""
    with https_server(leaf(ca, 60, name="demo.invalid")) as origin:
        [outcome] = run_check(run_predemo, tmp_path, origin, ca_file).outcomes
    assert outcome.state == "failed"
    assert "expected one that verifies, got: IP address mismatch" in outcome.message


def test_check_skips_a_target_without_https(run_predemo, tmp_path, unused_port):
    [outcome] = run_check(run_predemo, tmp_path, f"http://127.0.0.1:{unused_port}").outcomes
    assert outcome.state == "skipped" and "no https URL" in outcome.message


@pytest.mark.parametrize(("days", "verdict"), [(60, GO), (10, GO_WITH_WARNINGS), (2, NO_GO)])
def test_the_stages_https_edge(run_predemo, monkeypatch, days, verdict):
    """The stage's production-tls view (its edge over HTTPS, certificate from the stage's own CA), run as the
    CI job runs it: the certificate's expiry alone decides, and the site and API checks are green over https.
    Without host checks, as from CI: they would also see the tunnels of stages other test runs have up."""
    monkeypatch.setenv("SMOKE_HOST_CHECKS", "false")
    with Stage(pm2=False, tls_days=days) as stage:
        run = run_predemo(stage.env_file, "production-tls", "predemo and not browser")
        origins = [f"localhost:{stage.ports[name]}" for name in ("edge_site_tls", "edge_api_tls")]
        expiry = f"valid until {stage.tls.expires:%Y-%m-%d %H:%M} UTC ({days} days), issued by"
    outcomes = {outcome.nodeid.rpartition("::")[2]: outcome for outcome in run.verdict.outcomes}
    tls = outcomes.pop("test_tls_certificates")
    web = [outcome for outcome in outcomes.values() if "/test_web.py::" in outcome.nodeid]
    assert run.verdict.state == verdict, run.output
    assert len(web) >= 6 and all(outcome.state == "passed" and not outcome.shaky for outcome in web), run.output
    if verdict == NO_GO:
        assert tls.state == "failed" and "expected more than 3 days left, got 2.0 days" in tls.message
        return
    assert tls.state == "passed" and all(f"{origin} certificate {expiry}" in tls.result for origin in origins)
    warned = origins if verdict == GO_WITH_WARNINGS else []
    assert len(tls.warnings) == len(warned), tls.warnings
    for origin, warning in zip(warned, tls.warnings, strict=True):
        assert warning.startswith(f"{origin} certificate {expiry}") and "expires within 14 days: renew" in warning
