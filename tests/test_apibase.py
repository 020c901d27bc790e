"""Which API the Tell Your Story page calls from the site it is served from: read from its code, then asked."""

import pytest

from smoke.probes.apibase import ApiBase, api_bases, judge, used_from
from smoke.target import load_target

# Care2's page chunk as `next build` minifies it (frontend/app/tell-your-story/page.tsx, NEXT_PUBLIC_API_URL
# baked in as http://localhost:3001/api)
REAL = ('let N=()=>{{let e=window.location.hostname;if("localhost"===e||"127.0.0.1"===e)return"http://localhost:3003";'
        'if("care2connects.org"===e||"www.care2connects.org"===e)return"https://api.care2connects.org"}'
        'return"http://localhost:3001/api"};fetch(`${N()}/api/story/start`);"https://reactjs.org/docs/error.html"')
# the stage's chunk, written out: host:port choices for the pages it serves on loopback
STAGE = '''function apiBase() {
    const { hostname, host } = window.location;
    if (hostname === "care2connects.org" || hostname === "www.care2connects.org") {
      return "https://api.care2connects.org";
    }
    if (host === "localhost:41000" || host === "127.0.0.1:41000") return "http://localhost:41009";
    if (host === "localhost:42000") return "http://localhost:42001";
    return "http://localhost:41001/api";
  }'''
# site http://localhost:3000, API http://localhost:3001; https://care2connects.org, https://api.care2connects.org
LOCAL, PRODUCTION = load_target("local", environ={}), load_target("production", environ={})


def test_real_code_picks_3003_from_localhost_and_the_api_from_production():
    local = api_bases(REAL, "http://localhost:3000")
    assert local == [ApiBase("http://localhost:3003", ("localhost", "127.0.0.1")), ApiBase("http://localhost:3001")]
    assert [base.origin for base in used_from(local, "http://localhost:3000")] == ["http://localhost:3003"]
    assert [base.origin for base in used_from(local, "http://127.0.0.1:3000")] == ["http://localhost:3003"]
    production = api_bases(REAL, "https://care2connects.org")
    assert [base.origin for base in used_from(production, "https://care2connects.org")] == [
        "https://api.care2connects.org"]
    # a host the code names nowhere gets the build's NEXT_PUBLIC_API_URL
    assert [base.origin for base in used_from(local, "http://demo.lan:3000")] == ["http://localhost:3001"]


def test_stage_code_picks_by_host_and_port():
    bases = api_bases(STAGE, "http://localhost:41000")
    assert [base.origin for base in used_from(bases, "http://localhost:41000")] == ["http://localhost:41009"]
    assert [base.origin for base in used_from(bases, "http://localhost:42000")] == ["http://localhost:42001"]


@pytest.mark.parametrize(
    ("script", "site", "expected"),
    [
        ('fetch("https://api.care2connect.org/api/story/start"); "https://reactjs.org/docs/error-decoder.html"',
         "https://care2connects.org", ["https://api.care2connect.org"]),
        ('"https://care2connects.org/profile"', "https://care2connects.org", []),
        ('fetch("/api/story/start")', "http://localhost:3000", []),
        ('"https://api.care2connects.org"', "http://localhost:3000", []),  # not reachable from a loopback site
    ],
)
def test_only_the_sites_family_counts(script, site, expected):
    assert [base.origin for base in api_bases(script, site)] == expected


def test_the_picked_base_refusing_is_a_failure_though_the_configured_api_is_in_the_code(http, unused_port):
    code, attempts = REAL.replace("3003", str(unused_port)), []
    http.observers.append(lambda outcome, reused: attempts.append(outcome.attempts))
    findings = judge(LOCAL, http, api_bases(code, LOCAL.site_url))
    assert [finding.severity for finding in findings] == ["fail"]
    assert f"sends the story to http://localhost:{unused_port}" in findings[0].what
    assert "connection refused" in findings[0].what and "configured API http://localhost:3001" in findings[0].what
    assert "NEXT_PUBLIC_API_URL" in findings[0].fix
    assert attempts == [1], "asked once: no retry delay to wait for"


def test_a_base_held_by_another_program_is_a_failure(http, recorder):
    port = recorder.url.rsplit(":", 1)[1].strip("/")
    code = f'if("localhost"===e)return"http://localhost:{port}";return"http://localhost:3001/api"'
    findings = judge(LOCAL, http, api_bases(code, LOCAL.site_url))
    assert findings[0].severity == "fail" and "another program, not the Care2 backend" in findings[0].what


def test_loopback_bases_in_a_production_page_are_at_most_a_warning(http):
    site = PRODUCTION.site_url  # never asked: a loopback base in a page served from elsewhere is judged unasked
    assert [f.severity for f in judge(PRODUCTION, http, api_bases(REAL, site))] == ["note", "note"]
    fallback_only = 'return"http://localhost:3001/api"'
    findings = judge(PRODUCTION, http, api_bases(fallback_only, site))
    assert [f.severity for f in findings] == ["warn"]
    assert "a visitor's browser looks for on the visitor's own machine" in findings[0].what
