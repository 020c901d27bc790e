"""Unit tests of the plain probes: error-page classifier, page reading, health parsing, HTTP client, walk traffic."""

import threading
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from werkzeug import Response

from smoke.probes.health import DatabaseReadiness, DatabaseStatus, Liveness
from smoke.probes.http import Answer, Client, NoAnswer, Timings
from smoke.probes.pages import Page, classify
from smoke.probes.traffic import Exchange, Traffic

PAGES = Path(__file__).parent.parent / "fixtures" / "pages"
WELCOME = "CareConnect System - Welcome"


def answer(status: int, body: str, **headers: str) -> Answer:
    headers.setdefault("content_type", "text/html; charset=UTF-8")
    return Answer("GET", "https://care2connects.org/", status, httpx.Headers(
        {key.replace("_", "-"): value for key, value in headers.items()}), body.encode(), Timings(total_ms=5))


def test_cloudflare_1033_is_named_with_its_ray():
    page = classify(answer(530, (PAGES / "cloudflare-1033.html").read_text(), server="cloudflare"))
    assert (page.kind, page.code, page.status) == ("cloudflare", "1033", 530)
    assert page.ray == "8f3a1c2b4d5e6f70"
    assert "Cloudflare Tunnel error" in page.summary and "cloudflared" in page.fix


def test_cloudflare_502_names_the_failing_hop():
    page = classify(answer(502, (PAGES / "cloudflare-502.html").read_text(), server="cloudflare",
                           cf_ray="8f3a0b1c2d3e4f50-LAX"))
    assert (page.code, page.failing_hop, page.ray) == ("502", "Host", "8f3a0b1c2d3e4f50-LAX")
    assert "Bad gateway" in page.describe() and "127.0.0.1" in page.fix


def test_bare_edge_5xx_without_details_is_still_an_edge_error():
    page = classify(answer(524, "", server="cloudflare"))
    assert (page.kind, page.code) == ("cloudflare", "524")


def test_digits_in_a_healthy_page_are_not_an_error():
    html = '<title>CareConnect</title><script src="/_next/static/chunks/502-1033a530.js"></script> 502 1033'
    assert classify(answer(200, html, server="cloudflare", cf_ray="abc")) is None
    assert classify(answer(200, html)) is None


def test_origin_5xx_without_the_edge_is_a_proxy_page_not_a_cloudflare_one():
    assert classify(answer(502, "<h1>502 Bad Gateway</h1>")).kind == "proxy"
    assert classify(answer(503, '{"status":"not_ready"}', content_type="application/json")) is None


def test_proxy_invalid_hostname_and_backend_welcome_on_the_site():
    assert classify(answer(404, "Invalid hostname: care2connects.org", content_type="text/plain")).kind == \
        "invalid-hostname"
    welcome = f"<html><head><title>{WELCOME}</title></head><body>Welcome</body></html>"
    assert classify(answer(200, welcome), WELCOME).kind == "backend-welcome"
    assert classify(answer(200, welcome)) is None


def test_page_reads_title_headings_assets_and_buttons():
    page = Page.parse(
        '<html><head><title>T</title><link rel="stylesheet" href="/_next/static/css/a.css"></head>'
        '<body><h1>Before We Begin</h1><input id="consent" type="checkbox">'
        '<button disabled>Continue to Recording</button><script src="/_next/static/chunks/b.js"></script></body></html>'
    )
    assert page.title == "T" and page.h1 == ["Before We Begin"]
    assert page.assets == ["/_next/static/chunks/b.js", "/_next/static/css/a.css"]
    assert page.by_id("consent") is not None
    assert page.button("Continue to Recording").has_attr("disabled")


def test_page_text_is_what_a_person_reads():
    """Care2's home h1 is `Welcome to<br/><span>CareConnect</span>`: its textContent is "Welcome toCareConnect"."""
    page = Page.parse('<h1 class="x">Welcome to<br/><span class="text-blue-800">CareConnect</span></h1>'
                      '<h1>Care<strong>Connect</strong>  <!-- hidden -->rocks</h1>'
                      '<button><svg aria-hidden="true"></svg><span>Start Recording</span></button>')
    assert page.h1 == ["Welcome to CareConnect", "CareConnect rocks"]
    assert page.has_h1("Welcome to CareConnect") and page.has_h1("welcome TO careconnect")
    assert not page.has_h1("Welcome toCareConnect") and not page.has_h1("Welcome")
    assert page.button("Start Recording") is not None


def test_health_readers_take_only_what_decides():
    assert Liveness.read({"status": "alive", "service": "backend", "port": "3001"}).alive
    assert not Liveness.read("not json").alive
    assert DatabaseReadiness.read({"ready": True, "databaseUrl": "configured"}).ok
    assert not DatabaseReadiness.read({"ready": True, "databaseUrl": "missing"}).ok
    degraded = DatabaseStatus.read({"ok": True, "status": "degraded", "services": {"db": {"ok": False}}})
    assert not degraded.db_ok and not degraded.real
    file_store = {"services": {"db": {"ok": True, "detail": "FileStore mode (no DATABASE_URL)"}}}
    assert DatabaseStatus.read(file_store).file_store


def test_refused_is_retried_once_and_named(unused_port):
    client = Client(connect=1, read=1, retry_delay=0)
    with pytest.raises(NoAnswer) as failure:
        client.get(f"http://127.0.0.1:{unused_port}/health/live")
    assert failure.value.kind == "refused" and failure.value.attempts == 2
    assert "connection refused" in str(failure.value)


def test_a_get_prefetched_ahead_is_asked_once_waited_for_and_reported_only_when_a_check_asks(httpserver):
    """A check asking what another thread is asking ahead waits for that answer: one request, one report row."""
    arrived = threading.Event()

    def slow(request):
        arrived.set()
        time.sleep(0.3)
        return Response("ok")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    client, seen = Client(connect=1, read=2, retry_delay=0), []
    client.observers.append(lambda outcome, reused: seen.append(reused))
    url = httpserver.url_for("/slow")
    client.prefetch([url], wait=False)
    assert arrived.wait(5), "the prefetch never asked"  # its thread is in its request, not answered yet
    assert client.get(url).text == "ok" and client.get(url).text == "ok"
    assert len(httpserver.log) == 1 and seen == [False, True]
    client.close()


def test_a_get_without_retry_is_asked_once(unused_port):
    with pytest.raises(NoAnswer) as failure:
        Client(connect=1, read=1, retry_delay=5).get(f"http://127.0.0.1:{unused_port}/health/live", retry=False)
    assert failure.value.kind == "refused" and failure.value.attempts == 1


def test_a_hung_server_is_not_retried(hung_listener):
    client = Client(connect=1, read=0.5, retry_delay=0)
    with pytest.raises(NoAnswer) as failure:
        client.get(f"http://127.0.0.1:{hung_listener}/")
    assert failure.value.kind == "timeout" and failure.value.attempts == 1
    assert "timed out after 0.5 s" in str(failure.value)


def test_the_client_refuses_paths_that_harm_the_target(unused_port):
    client = Client(connect=1, read=1, retry_delay=0)
    for path in ("/api/test/shutdown", "/admin", "/admin/users"):
        with pytest.raises(ValueError, match="never calls"):
            client.get(f"http://127.0.0.1:{unused_port}{path}")


def test_an_origin_error_passed_through_cloudflare_is_the_origins_answer():
    db_down = answer(503, '{"ready":false,"message":"Database is not accessible"}', server="cloudflare",
                     cf_ray="8f3a0b1c2d3e4f50-LAX", content_type="application/json")
    assert classify(db_down) is None
    proxy = classify(answer(502, "<html><body>Bad Gateway</body></html>", server="cloudflare"))
    assert (proxy.kind, proxy.code) == ("proxy", "502")


def test_the_last_status_is_the_last_answered_one_not_a_poll_still_in_flight():
    status = "http://localhost:3001/api/story/42/status"
    traffic = Traffic([Exchange("GET", status, 200, _body='{"status":"TRANSCRIBING","progress":30}'),
                       Exchange("GET", status)])  # the next poll, sent, not answered yet
    assert traffic.last_answered("/status").json() == {"status": "TRANSCRIBING", "progress": 30}
    assert traffic.last_answered("/api/story/start") is None


def test_a_named_answer_carries_its_body_or_says_why_it_has_none():
    class Dropped:  # Playwright's response to a request the page stopped before its body was read
        def text(self):
            raise PlaywrightError("Response.text: Protocol error (Network.getResponseBody): No data found\nmore")

    start = "http://localhost:3001/api/story/start"
    assert Exchange("POST", start, 500, _body='{"error": "x"}').describe() == f'POST {start} -> 500: {{"error": "x"}}'
    assert Exchange("POST", start, 500, _body="").describe() == f"POST {start} -> 500 (empty body)"
    assert Exchange("POST", start, 500, response=Dropped()).describe() == (
        f"POST {start} -> 500 (its body was gone from the browser when the suite read it: Protocol error "
        "(Network.getResponseBody): No data found)")
    chunk = "http://localhost:3000/_next/static/chunks/app.js"
    assert Exchange("GET", chunk, 404).describe() == f"GET {chunk} -> 404", "a file's body is not read"
    assert Exchange("POST", start, failure="net::ERR_CONNECTION_REFUSED").describe() == (
        f"POST {start} -> no answer (net::ERR_CONNECTION_REFUSED)")


@pytest.mark.parametrize("body, live, ready, db", [
    ("not json", ("", "", ""), (False, "", "", ""), ("", False, "")),
    ({"status": None, "port": 3001}, ("None", "", "3001"), (False, "", "", ""), ("None", False, "")),
    ({"ready": "true", "databaseUrl": None, "services": "down"}, ("", "", ""), (False, "None", "", ""),
     ("", False, "")),
    ({"ready": True, "services": {"db": {"ok": 1, "detail": None}}}, ("", "", ""), (True, "", "", ""),
     ("", False, "None")),
])
def test_a_health_body_of_another_shape_reads_as_the_text_of_its_values(body, live, ready, db):
    seen = Liveness.read(body), DatabaseReadiness.read(body), DatabaseStatus.read(body)
    assert (seen[0].status, seen[0].service, seen[0].port) == live
    assert (seen[1].ready, seen[1].database_url, seen[1].message, seen[1].error) == ready
    assert (seen[2].status, seen[2].db_ok, seen[2].detail) == db
