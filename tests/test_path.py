"""The path check's parts: the routes it walks (the Host cloudflared sends), the proxy's upstream read from Caddy's
own config, a hop's answer judged, and what an edge's error page is told. The whole walk through a real Caddy is
proven on the stage (tests/test_faults.py: caddy-*, frontend-down, ...)."""

import json
import re
import socket
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fixtures.stage import caddy as stage_caddy
from smoke.probes import caddy, path
from smoke.probes.findings import Finding
from smoke.probes.http import Client
from smoke.target import load_target

UPSTREAM_CADDYFILE = Path(__file__).resolve().parents[1] / "fixtures" / "windows" / "Caddyfile.production"


def target_with(**settings):
    return load_target("local", environ={f"SMOKE_{key.upper()}": value for key, value in settings.items()})


@pytest.mark.skipif(stage_caddy.binary() is None, reason=stage_caddy.MISSING)
def test_upstreams_are_read_from_caddys_own_config_of_care2s_caddyfile(tmp_path):
    """Upstream's Caddyfile.production, adapted by Caddy itself: the route of each Host, none for www."""
    config = caddy.read_caddy_config(stage_caddy.binary(), ["caddy", "run", "--config", "Caddyfile.production"],
                                    str(UPSTREAM_CADDYFILE.parent))
    assert isinstance(config, dict), config
    assert caddy.upstream_for(config, 8080, "care2connects.org") == "127.0.0.1:3000"
    assert caddy.upstream_for(config, 8080, "API.care2connects.org") == "127.0.0.1:3001"  # hosts match in any case
    assert caddy.upstream_for(config, 8080, "www.care2connects.org") is None  # the catch-all's 404
    assert caddy.upstream_for(config, 8081, "care2connects.org") is None  # no server on that port
    broken = tmp_path / "Caddyfile"
    broken.write_text(":8080 {\n  reverse_prxy 127.0.0.1:3000\n}\n")
    said = caddy.read_caddy_config(stage_caddy.binary(), ["caddy", "run", "--config", str(broken)], str(tmp_path))
    assert isinstance(said, str) and said.startswith(f"`caddy adapt --config {broken}` failed: ")


def test_a_json_config_is_read_as_it_is(tmp_path):
    proxied = {"match": [{"host": ["*.example.org"]}], "handle": [
        {"handler": "headers"}, {"handler": "reverse_proxy", "upstreams": [{"dial": "localhost:7"}]}]}
    server = {"listen": ["127.0.0.1:9"], "routes": [{"handle": [{"handler": "subroute", "routes": [proxied]}]}]}
    (tmp_path / "caddy.json").write_text(json.dumps({"apps": {"http": {"servers": {"a": server}}}}))
    config = caddy.read_caddy_config("caddy-not-needed", ["caddy", "run", "--config=caddy.json"], str(tmp_path))
    assert caddy.upstream_for(config, 9, "api.example.org") == "localhost:7"
    assert caddy.upstream_for(config, 9, "example.com") is None


def resolving(monkeypatch, addresses: dict[str, str]):
    """This host's resolver as ``addresses`` says (a name not in it does not resolve): no DNS query leaves it."""
    def getaddrinfo(name, *args, **kwargs):
        if name not in addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addresses[name], 0))]
    monkeypatch.setattr(path.socket, "getaddrinfo", getaddrinfo)


def test_routes_send_the_host_cloudflared_sends(tmp_path, monkeypatch):
    config = tmp_path / "config.yml"
    config.write_text("""
tunnel: care2connects-tunnel
originRequest:
  httpHostHeader: internal.example
ingress:
  - hostname: care2connects.org
    service: http://localhost:8080
  - hostname: api.care2connects.org
    service: http://127.0.0.1:8080
    originRequest:
      httpHostHeader: api.internal.example
  - hostname: "*.care2connects.org"
    service: http://127.0.0.1:8080
  - hostname: ssh.care2connects.org
    service: ssh://127.0.0.1:22
  - hostname: old.care2connects.org
    service: https://careconnect-backend.onrender.com
  - service: http_status:404
""")
    found, notes = path.routes(target_with(tunnel_config=f'"{config}"'))
    assert [(route.hostname, route.service, route.host_header) for route in found] == [
        ("care2connects.org", "http://localhost:8080", "internal.example"),
        ("api.care2connects.org", "http://127.0.0.1:8080", "api.internal.example"),
        ("old.care2connects.org", "https://careconnect-backend.onrender.com", "internal.example"),
    ]
    assert [note.what.split(": ", 1)[1] for note in notes] == [
        "a wildcard host name, not asked", "ssh://127.0.0.1:22 is not an HTTP service, not asked"]
    resolving(monkeypatch, {"careconnect-backend.onrender.com": "203.0.113.7"})
    remote = path.walk(target_with(tunnel_config=f'"{config}"'), None, found[2])  # never dialled: no client needed
    assert remote.finding.severity == "note" and remote.finding.what.endswith(
        "whose name resolves to 203.0.113.7: not on this host's loopback, not asked")
    assert not remote.answered


def test_an_ingress_name_that_does_not_resolve_fails_with_the_loopback_address_to_use(monkeypatch):
    """cloudflared resolves the service's name on this host too: a typo (locahost) is every visitor's 502."""
    resolving(monkeypatch, {})
    target = target_with(site_url='"https://care2connects.org"')
    typo = path.Route("care2connects.org", "http://locahost:3000", "care2connects.org", "the tunnel ingress (x)")
    walked = path.walk(target, None, typo)  # never dialled: no client needed
    assert walked.finding.severity == "fail" and not walked.answered
    assert walked.finding.what == (
        "care2connects.org: the tunnel ingress (x) sends it to http://locahost:3000, whose name locahost does not "
        "resolve on this host: cloudflared cannot reach it, so every visitor gets 502 Bad Gateway")
    assert walked.finding.fix == ("use http://127.0.0.1:3000 in the ingress (its name locahost does not resolve on "
                                  "this host), then pm2 restart care2connect-tunnel")
    assert path.behind(target, [walked], "https://care2connects.org/") == f"on this host, {walked.finding.what}"


def test_without_a_tunnel_config_the_proxys_routes_for_the_public_names_are_walked():
    found, notes = path.routes(target_with(tunnel_name='"no-such-tunnel-here"', ports_proxy="8080"))
    assert [(route.hostname, route.service) for route in found] == [
        ("care2connects.org", "http://127.0.0.1:8080"), ("api.care2connects.org", "http://127.0.0.1:8080")]
    assert path.routes(target_with(tunnel_name='"no-such-tunnel-here"', ports_proxy="0")) == ([], [])
    assert path.judge(path.LocalPath([], []))[0].what.startswith("not checked: no tunnel config")


@pytest.fixture
def hop():
    """A loopback server that records the Host of each request and answers as ``hop.answer`` says."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.hosts, server.answer = [], (200, {}, "")

    def handle(request: Request) -> Response:
        server.hosts.append(request.headers.get("host"))
        status, headers, body = server.answer
        return Response(body, status, headers)

    server.expect_request(re.compile(".*")).respond_with_handler(handle)
    server.start()
    yield server
    server.clear()
    server.stop()


def route_to(server, host_header="care2connects.org"):
    return path.Route("care2connects.org", f"http://127.0.0.1:{server.port}", host_header, "the tunnel ingress (x)")


def test_a_hop_is_asked_with_the_host_the_tunnel_sends_and_judged_by_who_answers(hop, http):
    target = target_with(ports_proxy=str(hop.port))
    hop.answer = (200, {"x-care2-origin": "frontend"}, "<html>")
    walked = path.walk(target, http, route_to(hop, "internal.example"))
    assert hop.hosts == ["internal.example"]
    # named by its port (Caddy names itself by its Server header: werkzeug here sends its own)
    assert walked.finding == Finding("note", f"care2connects.org (Host internal.example): the tunnel ingress (x) "
                                             f"-> the proxy on 127.0.0.1:{hop.port} (ports.proxy): the frontend "
                                             "answers 200")
    hop.answer = (200, {"x-care2-origin": "backend"}, "<title>CareConnect System - Welcome</title>")
    assert path.walk(target, Client(2, 2, 0), route_to(hop)).finding.what.startswith(
        "care2connects.org reaches the backend, not the frontend")
    hop.answer = (404, {}, "Invalid hostname. Expected: care2connects.org or api.care2connects.org")
    finding = path.walk(target, Client(2, 2, 0), route_to(hop)).finding
    assert finding.severity == "fail" and finding.what == (
        f"the proxy on 127.0.0.1:{hop.port} (ports.proxy) answers 404 'Invalid hostname. Expected: care2connects.org "
        "or api.care2connects.org' for Host care2connects.org: its site address does not match")


def test_a_gateway_whose_config_cannot_be_read_is_named_with_why(hop, http):
    """A proxy that is not Caddy (here: the test's own server) answers 502: its upstream cannot be named, and why."""
    hop.answer = (502, {}, "")
    finding = path.walk(target_with(ports_proxy=str(hop.port)), http, route_to(hop)).finding
    assert finding.severity == "fail"
    assert re.fullmatch(rf"the proxy on 127\.0\.0\.1:{hop.port} \(ports\.proxy\) answers 502 for care2connects\.org; "
                        r"its upstream cannot be named \(PID \d+ is not Caddy \(.+\)\)", finding.what), finding.what


def test_an_edge_error_is_told_the_broken_hop_or_that_every_hop_answers():
    target = target_with(site_url='"https://care2connects.org"', api_url='"https://api.care2connects.org"')
    site, api = (path.Route(name, "http://127.0.0.1:8080", name, "the tunnel ingress (x)")
                 for name in ("care2connects.org", "api.care2connects.org"))
    walked = [path.Walked(site, Finding("note", "care2connects.org: ... the frontend answers 200"), answered=True),
              path.Walked(api, Finding("fail", "Caddy on 127.0.0.1:8080 answers 502 for api.care2connects.org: ..."))]
    assert path.behind(target, walked, "https://api.care2connects.org/health/live") == (
        "on this host, Caddy on 127.0.0.1:8080 answers 502 for api.care2connects.org: ...")
    assert path.behind(target, walked, "https://care2connects.org/").startswith(
        "on this host every hop for care2connects.org answers (care2connects.org: ... the frontend answers 200): the "
        "fault lies between Cloudflare and this host (the tunnel's edge connections, DNS, the Cloudflare account)")
    assert path.behind(target, walked, "https://elsewhere.example/") == ""


def test_every_hop_is_said_to_answer_only_when_the_app_at_the_end_answered(hop, http):
    """A walk that ends in a note or warning where no app was seen to answer tells the error page what could not be
    checked, never that every local hop is fine."""
    target = target_with(site_url='"https://care2connects.org"', ports_proxy=str(hop.port))
    hop.answer = (200, {}, "<html>")  # an answer, but whose cannot be told
    walked = path.walk(target, http, route_to(hop))
    assert path.behind(target, [walked], "https://care2connects.org/") == (
        f"on this host the path for care2connects.org could not be followed to the app ({walked.finding.what}), so "
        "whether a local hop fails is not known")
    assert walked.finding.severity == "warn" and not walked.answered
    hop.answer = (200, {"x-care2-origin": "frontend"}, "<html>")
    walked = path.walk(target, Client(2, 2, 0), route_to(hop))  # a new client: the first keeps what it was told
    assert walked.answered
    assert path.behind(target, [walked], "https://care2connects.org/").startswith(
        "on this host every hop for care2connects.org answers")
