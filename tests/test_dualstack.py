"""Dual stack judged by what clients on this host really do: the resolver's addresses and order, who listens where.

Care2's backend listens on 0.0.0.0 only; `next start` on both. Windows resolves localhost to ::1 first; this
CI machine to 127.0.0.1 only; many Linux hosts to both, ::1 first.
"""

import os
import socket

import pytest

from smoke.probes import dualstack
from smoke.probes.dualstack import Dialled, Reach, judge_origin

V4_ONLY, V6_FIRST, BOTH_V4_FIRST = ("127.0.0.1",), ("::1", "127.0.0.1"), ("127.0.0.1", "::1")
IPV4_ONLY_BACKEND = {"127.0.0.1": Reach(True, "accepted", 100), "::1": Reach(False, "connection refused")}
BOTH = {"127.0.0.1": Reach(True, "accepted", 100), "::1": Reach(True, "accepted", 100)}
API_URL = Dialled("localhost", 3001, "the API URL http://localhost:3001")
INGRESS = Dialled("localhost", 3000, "the tunnel ingress for care2connects.org", "the tunnel ingress (config.yml)",
                  by_tunnel=True)


def severities(findings):
    return [finding.severity for finding in findings]


def test_an_ipv4_only_backend_is_fine_where_localhost_is_ipv4_only():
    """The real app on this machine: nobody dials ::1, every client reaches the backend."""
    findings = judge_origin(API_URL, V4_ONLY, IPV4_ONLY_BACKEND)
    assert severities(findings) == ["note"]
    assert "no client here tries it" in findings[0].what


def test_an_ipv4_only_backend_where_localhost_is_ipv6_first_is_a_warning_for_clients_that_fall_back():
    findings = judge_origin(API_URL, V6_FIRST, IPV4_ONLY_BACKEND)
    assert severities(findings) == ["warn"]
    assert "[::1]:3001 connection refused while 127.0.0.1:3001 accepts" in findings[0].what
    assert "localhost is ::1 then 127.0.0.1 on this host" in findings[0].what
    assert "use http://127.0.0.1:3001" in findings[0].fix


def test_the_tunnel_dialling_localhost_where_it_is_ipv6_first_is_red():
    """cloudflared dials the first address only (it did on the demo host), here on a Windows-like resolver."""
    findings = judge_origin(INGRESS, V6_FIRST, IPV4_ONLY_BACKEND)
    assert severities(findings) == ["fail"]
    assert "502, then 1033" in findings[0].what
    assert findings[0].fix.startswith("use http://127.0.0.1:3000 in the tunnel ingress (config.yml)")


def test_the_tunnel_dialling_localhost_where_it_is_ipv4_only_is_a_warning():
    findings = judge_origin(INGRESS, V4_ONLY, IPV4_ONLY_BACKEND)
    assert severities(findings) == ["warn"]
    assert "as on Windows" in findings[0].what


def test_a_second_address_that_refuses_is_a_warning():
    assert severities(judge_origin(API_URL, BOTH_V4_FIRST, IPV4_ONLY_BACKEND)) == ["warn"]


def test_both_addresses_accepting_is_fine_on_any_resolver():
    for resolved in (V4_ONLY, V6_FIRST, BOTH_V4_FIRST, ()):
        assert severities(judge_origin(INGRESS, resolved, BOTH)) == ["note"]


def test_another_program_on_the_other_address_is_red_when_clients_here_may_reach_it():
    split = {"127.0.0.1": Reach(True, "accepted", 100), "::1": Reach(True, "accepted", 999_999)}
    findings = judge_origin(API_URL, V6_FIRST, split)
    assert severities(findings) == ["fail"]
    assert "held by PID 100" in findings[0].what and "[::1]:3001 by PID 999999" in findings[0].what
    assert severities(judge_origin(API_URL, V4_ONLY, split)) == ["warn"]


def test_only_the_unresolved_address_accepting_is_red():
    v6_only = {"127.0.0.1": Reach(False, "connection refused"), "::1": Reach(True, "accepted", 100)}
    findings = judge_origin(API_URL, V4_ONLY, v6_only)
    assert severities(findings) == ["fail"] and "nobody dialling localhost reaches the service" in findings[0].what


def test_nothing_listening_is_the_ports_checks_business():
    down = {"127.0.0.1": Reach(False, "connection refused"), "::1": Reach(False, "connection refused")}
    assert severities(judge_origin(API_URL, V6_FIRST, down)) == ["note"]


def test_a_literal_address_is_dialled_as_written():
    ingress = Dialled("::1", 3000, "the tunnel ingress for care2connects.org", "the tunnel ingress (c.yml)",
                      by_tunnel=True)
    findings = judge_origin(ingress, V4_ONLY, IPV4_ONLY_BACKEND)
    assert severities(findings) == ["fail"]
    assert "[::1]:3000 connection refused while 127.0.0.1:3000 accepts" in findings[0].what
    assert severities(judge_origin(Dialled("127.0.0.1", 3001, "the API URL"), V6_FIRST, IPV4_ONLY_BACKEND)) == ["note"]


@pytest.mark.parametrize(("answer", "expected"), [
    ([("127.0.0.1", 0)], V4_ONLY),
    ([("::1", 0, 0, 0), ("127.0.0.1", 0)], V6_FIRST),
    ([("fe80::1%lo", 0, 0, 1), ("::1", 0, 0, 0), ("::1", 0, 0, 0)], ("::1",)),
])
def test_resolve_keeps_the_resolvers_order(monkeypatch, answer, expected):
    infos = [(socket.AF_INET6 if ":" in a[0] else socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in answer]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: infos)
    assert dualstack.resolve("localhost") == expected


def test_resolve_without_an_answer(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror("no such name")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert dualstack.resolve("localhost") == ()


def test_reach_dials_both_addresses(unused_port):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        reached = dualstack.reach(port, timeout=1)
    assert reached["127.0.0.1"].accepted and not reached["::1"].accepted
    assert dualstack.reach(unused_port, timeout=1)["127.0.0.1"].reason == "connection refused"


def test_reach_names_who_listens_on_each_address_when_both_accept():
    with socket.socket() as v4, socket.socket(socket.AF_INET6) as v6:
        v4.bind(("127.0.0.1", 0))
        port = v4.getsockname()[1]
        v6.bind(("::1", port))
        v4.listen(1)
        v6.listen(1)
        reached = dualstack.reach(port, timeout=1)
    assert reached["127.0.0.1"].pid == reached["::1"].pid == os.getpid()
