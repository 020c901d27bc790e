"""`predemo` against the stage: green when healthy; for each fault, exactly the right checks red.

Each case starts the stage with one fault, runs the suite as a user would (a pytest subprocess
with --env-file), and reads the JUnit file: which checks failed, what they said, how long it took.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fixtures.stage import Stage

HTTP_CHECKS = {"site_reachable", "tell_your_story_page", "api_health", "database", "frontend_to_backend",
               "no_error_pages"}


@dataclass(frozen=True)
class Case:
    fault: str | None
    view: str  # "local" (straight to the origins) or "production" (through the edge)
    red: frozenset[str]
    says: dict[str, tuple[str, ...]]  # check -> words its message must contain ({fe}, {be} = stage ports)
    bound: float = 25.0  # seconds for the whole suite run


def case(fault, view, red=(), says=None, bound=25.0) -> Case:
    return Case(fault, view, frozenset(red), says or {}, bound)


CASES = [
    case(None, "local"),
    case(None, "production"),
    case("frontend-down", "local", {"site_reachable", "tell_your_story_page", "frontend_to_backend"},
         {"site_reachable": ("connection refused", "{fe}")}),
    case("frontend-down", "production",
         {"site_reachable", "tell_your_story_page", "frontend_to_backend", "no_error_pages"},
         {"no_error_pages": ("Cloudflare error 502", "cf-ray")}),
    case("backend-down", "local", {"api_health", "database", "frontend_to_backend"},
         {"api_health": ("connection refused", "http://localhost:{be}", "port {be}")}),
    case("db-down", "local", {"database"}, {"database": ("services.db.ok is false",)}),
    case("db-degraded-200", "local", {"database"}, {"database": ("answered 200", "hides a database failure")}),
    case("tunnel-down", "production", HTTP_CHECKS,
         {"no_error_pages": ("Cloudflare error 1033", "HTTP 530", "cf-ray", "cloudflared")}),
    case("origin-refused", "production",
         {"site_reachable", "tell_your_story_page", "frontend_to_backend", "no_error_pages"},
         {"site_reachable": ("Cloudflare error 502", "Bad gateway", "failing hop: Host")}),
    case("rogue-on-backend-port", "local", {"api_health", "database", "frontend_to_backend"},
         {"api_health": ("X-Care2-Origin", '"backend"', "'frontend'", "port {be}")}),
    case("backend-welcome-on-site", "production",
         {"site_reachable", "tell_your_story_page", "frontend_to_backend", "no_error_pages"},
         {"site_reachable": ("CareConnect System - Welcome", "routed to the backend")}),
    case("static-404-html", "local", {"site_reachable", "tell_your_story_page"},
         {"site_reachable": ("/_next/static/", "404", "text/html")}),
    case("api-base-3003", "local", {"frontend_to_backend"},
         {"frontend_to_backend": ("API base", "http://localhost:{be}")}),
    case("cors-blocked", "local", {"frontend_to_backend"},
         {"frontend_to_backend": ("CORS", "http://localhost:{fe}", "Access-Control-Allow-Origin")}),
    case("slow-health", "local", {"api_health"}, {"api_health": ("timed out after", "budget 2 s")}),
    case("hang", "local", HTTP_CHECKS - {"no_error_pages"}, {"api_health": ("timed out after",)}, bound=30.0),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.fault or 'healthy'}-{c.view}")
def test_predemo_against_the_stage(case: Case, tmp_path, run_predemo):
    with Stage(faults={case.fault} if case.fault else set(), workdir=tmp_path / "stage") as stage:
        run = run_predemo(stage.env_file, case.view)
        ports = {"fe": stage.ports["frontend"], "be": stage.ports["backend"]}
    http_red = run.red() & HTTP_CHECKS
    assert http_red == case.red, f"expected red {sorted(case.red)}, got {sorted(http_red)}\n{run.output}"
    for check, words in case.says.items():
        message = run.outcomes[check][1]
        for word in words:
            assert word.format(**ports) in message, f"{check} should say {word!r}:\n{message}"
    assert run.seconds < case.bound, f"run took {run.seconds:.1f} s (bound {case.bound} s)"
