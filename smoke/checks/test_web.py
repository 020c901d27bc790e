"""The pre-demo checklist, HTTP part: what a visitor and the page's own code will reach."""

import pytest

from smoke.probes import apibase, fixes
from smoke.probes.health import DatabaseReadiness, DatabaseStatus, Liveness
from smoke.probes.http import NoAnswer
from smoke.probes.pages import Page, absolute, classify

pytestmark = pytest.mark.predemo

JS_OR_CSS = ("application/javascript", "text/javascript", "text/css")
# whose evidence explains a red line (the host's logs...): the app first, then the hops in front of it
SITE_ROLES = ("frontend", "proxy", "tunnel")
API_ROLES = ("backend", "proxy", "tunnel")


def start_frontend(target) -> fixes.Fix:
    return fixes.restart(target, "frontend").saying(
        f"start the frontend (pm2 restart {target.pm2.apps.get('frontend', 'the frontend app')}) and check it "
        f"listens on port {target.ports.frontend}; through the tunnel, check the tunnel and proxy too"
    )


def start_backend(target) -> fixes.Fix:
    return fixes.restart(target, "backend").saying(
        f"start the backend (pm2 restart {target.pm2.apps.get('backend', 'the backend app')}) and check it "
        f"listens on port {target.ports.backend} (the API URL is {target.api_url})"
    )


def silent_backend(target, http, request) -> fixes.Fix:
    """The fix for a backend that gives no answer: where this host is checked and the backend's process is stopped or
    hangs (PM2 still calling it online), restart it, naming it; else start it."""
    if target.host_checks and not backend_alive(http, target):
        from smoke.probes import care2, standstill  # psutil, PM2's list: only on the app's host, for a silent backend

        owners = care2.roots(target, request.getfixturevalue("pm2_list"))
        stuck = [still for still in standstill.find(target, http, owners, "backend") if not still.still_served]
        if stuck:
            return stuck[0].fix.saying(f"{stuck[0].brief}: {stuck[0].fix}")
    return start_backend(target)


def rewrite_in_build(target, request):
    """What the frontend's build on this host does with the rewrite probe's path, against the backend's ports."""
    from smoke.probes import build, care2  # psutil, PM2's list: only on the app's host, only for a failed rewrite

    listing = request.getfixturevalue("pm2_list")
    owners = care2.roots(target, listing)
    return build.built_rewrite(build.frontend_folder(target, listing, owners), target.paths.rewrite_probe,
                               build.backend_ports(owners))


def reaches_backend(answer) -> bool:
    """An answer through the frontend's rewrite that the backend gave (a 4xx of its own counts: it was reached)."""
    return answer.header("x-care2-origin") == "backend" and answer.status < 500


def answers(http, url: str, origin: str = "") -> bool:
    """Something answers at ``url``, as ``origin`` (X-Care2-Origin) if given; asked once per run."""
    try:
        answer = http.get(url)
    except NoAnswer:
        return False
    return not origin or answer.header("x-care2-origin") == origin


def backend_alive(http, target) -> bool:
    """The backend answers its liveness URL as the backend (asked at the run's start: no new request)."""
    return answers(http, target.api(target.paths.api_live), "backend")


def frontend_page(check, target, path: str, what: str):
    """A page of the site that must be the frontend's HTML, answered in time."""
    url, fix = target.site(path), start_frontend(target)
    answer = check.get(url, what, fix, budget=target.budgets.page)
    # it answers: restarting it is no command to run blindly (a wrong route gives the same), only the words
    check.that(answer.status == 200, f"{what} status", 200, answer.status, answer, str(fix))
    check.that(answer.content_type == "text/html", f"{what} content type", "text/html", answer.content_type, answer)
    origin = answer.header("x-care2-origin")
    check.that(
        origin == "frontend", f"{what} identity (X-Care2-Origin)", '"frontend"', repr(origin), answer,
        f"{url} is not served by the Care2 frontend: check what listens on port {target.ports.frontend} "
        "and where the tunnel/proxy routes the site host name",
    )
    check.that(
        answer.seconds <= target.budgets.page, f"{what} time", f"<= {target.budgets.page:g} s",
        f"{answer.seconds:.1f} s", answer, "the frontend is overloaded or a hop in front of it is slow",
    )
    return answer, Page.parse(answer.text)


def assets_load(check, target, page: Page, page_url: str, what: str) -> list[str]:
    """Every script and stylesheet the page loads from /_next/static comes back as JS/CSS: one missing chunk
    (a half-deployed build) is enough for a dead page. Asked in parallel."""
    static = [ref for ref in page.assets if "/_next/static/" in ref]
    check.that(bool(static), f"{what} assets", "scripts/styles under /_next/static", "none referenced", None,
               "the page is not the Next.js build: rebuild and restart the frontend")
    fix = ("static assets are not served: is the reverse proxy / frontend up, and was the build deployed "
           "(next build; restart the frontend)? Without them a visitor sees a blank page")
    urls = list(dict.fromkeys(absolute(page_url, ref) for ref in static))
    check.http.prefetch(urls)
    for url in urls:
        asset = check.get(url, f"{what} asset {url}", fix)
        check.that(asset.status == 200 and asset.content_type in JS_OR_CSS, f"{what} asset {url}",
                   "200 with JavaScript or CSS", f"{asset.status} {asset.content_type or 'without a content type'}",
                   asset, fix)
    return urls


def test_site_reachable(target, check):
    """(1) Site reachable: the home page is CareConnect's and its assets load."""
    check.concerns(*SITE_ROLES)
    answer, page = frontend_page(check, target, "/", "Home page")
    expect = target.expect
    check.that(page.title == expect.title, "Home page title", repr(expect.title), repr(page.title), answer)
    check.that(page.has_h1(expect.home_h1), "Home page heading", repr(expect.home_h1), page.h1 or "no h1", answer)
    check.that(bool(page.links_to(expect.story_link)), "Home page demo link", f'a[href="{expect.story_link}"]',
               "no such link", answer, "the home page build is not the demo build: redeploy the frontend")
    assets = assets_load(check, target, page, answer.url, "Home page")
    check.passed(f"home page answered in {answer.timings.describe()}; {len(assets)} static assets load")


def test_tell_your_story_page(target, check):
    """(2) Tell Your Story page loads with its consent screen."""
    check.concerns(*SITE_ROLES)
    answer, page = frontend_page(check, target, target.paths.story_page, "Tell Your Story page")
    expect = target.expect
    check.that(page.has_h1(expect.consent_h1), "Consent screen heading", repr(expect.consent_h1), page.h1 or "no h1",
               answer)
    check.that(page.by_id("consent") is not None, "Consent checkbox", "#consent", "missing", answer)
    button = page.button(expect.continue_button)
    check.that(button is not None, "Continue button", repr(expect.continue_button), "missing", answer)
    check.that(button.has_attr("disabled"), "Continue button before consent", "disabled", "enabled", answer)
    assets_load(check, target, page, answer.url, "Tell Your Story page")
    check.passed(f"consent screen served in {answer.timings.describe()}")


def test_api_health(target, check, http, request):
    """(3) API health: the backend says it is alive, in time."""
    check.concerns(*API_ROLES)
    budget = target.budgets.health
    url = target.api(target.paths.api_live)
    answer = check.get(url, f"API health (budget {budget:g} s)", silent_backend(target, http, request),
                       budget=budget)
    origin = answer.header("x-care2-origin")
    check.that(
        origin == "backend", "API identity (X-Care2-Origin)", '"backend"', repr(origin), answer,
        f"something else answers at {target.api_url}: find the process holding port {target.ports.backend} "
        "(host checks name it), stop it, restart the backend",
    )
    check.that(answer.status == 200, "API health status", 200, answer.status, answer, start_backend(target))
    live = Liveness.read(answer.json())
    check.that(live.alive, "API health body status", '"alive"', repr(live.status), answer)
    check.that(live.service == "backend", "API health body service", '"backend"', repr(live.service), answer)
    check.that(answer.seconds <= budget, "API health time", f"<= {budget:g} s", f"{answer.seconds:.1f} s",
               answer, "the backend is slow to answer: check its logs, CPU and database")
    check.passed(f"API answered in {answer.timings.describe()}: alive")


def test_database(target, check, http, request):
    """(4) Database: the backend has a real, connected database."""
    check.concerns(*API_ROLES)
    fix = ("the backend cannot reach its database: check DATABASE_URL in the backend's .env and that "
           "PostgreSQL is running, then restart the backend")
    # A backend that is alive but gives its database status no answer waits on its database (hung or gone).
    unanswered = fix if backend_alive(http, target) else silent_backend(target, http, request)
    status = check.get(target.api(target.paths.api_status), "Database status", unanswered)
    seen = DatabaseStatus.read(status.json())
    if status.status == 200 and not seen.db_ok:
        check.fail(f"Database: {target.paths.api_status} answered 200 but services.db.ok is false "
                   f"(status {seen.status!r}, detail {seen.detail!r}): a 200 that hides a database failure",
                   status, fix)
    check.that(status.status == 200, "Database status", 200, status.status, status, fix)
    check.that(not seen.file_store, "Database mode", "a real database", repr(seen.detail), status,
               "the backend runs without DATABASE_URL (FileStore mode): set it in the backend's .env")
    readiness_answer = check.get(target.api(target.paths.api_db), "Database readiness", unanswered)
    readiness = DatabaseReadiness.read(readiness_answer.json())
    check.that(readiness_answer.status == 200 and readiness.ready, f"Database readiness {target.paths.api_db}",
               "200 ready=true", f"{readiness_answer.status} ready={readiness.ready} {readiness.error!r}".strip(),
               readiness_answer, fix)
    check.that(readiness.database_url == "configured", "Database URL", '"configured"',
               repr(readiness.database_url), readiness_answer, fix)
    check.passed(f"database connected ({seen.detail or 'ok'}), checked in {readiness_answer.timings.describe()}")


def test_frontend_to_backend(target, check, http, request):
    """(5) Frontend to backend: the rewrite, CORS and the /papi proxy reach the API the page uses."""
    check.concerns("frontend", "backend", "proxy", "tunnel")
    rewrite_url = target.site(target.paths.rewrite_probe)
    # Both were asked at the run's start: whether the site and the API answer costs no request here.
    site_up, backend_up = answers(http, target.site("/")), backend_alive(http, target)
    silent = silent_backend(target, http, request)
    if backend_up:
        rewrite_fix = fixes.Fix("the frontend's NEXT_PUBLIC_API_URL does not point at the running backend: fix it and "
                                "rebuild")
    else:  # the rewrite may be right while nothing answers where it leads (the backend down or hung)
        rewrite_fix = silent.saying(
            f"the backend does not answer at {target.api_url}, so the rewrite cannot reach it: {silent}")
    try:  # asked at the run's start too
        reached = reaches_backend(http.get(rewrite_url))
    except NoAnswer:
        reached = False
    built = rewrite_in_build(target, request) if target.host_checks and not reached else None
    if built is not None and built.elsewhere:
        rewrite_fix = fixes.Fix(f"rebuild the frontend with NEXT_PUBLIC_API_URL at the backend's port (next build in "
                                f"its folder: the rewrite is fixed at build time), then "
                                f"{fixes.restart(target, 'frontend')}")
    # Each part is judged whatever the others found: the presenter gets every problem in one run.
    with check.part():
        in_build = f"; {built.sentence}" if built else ""
        unanswered = rewrite_fix if site_up else start_frontend(target)
        rewrite = check.get(rewrite_url, "Frontend /api rewrite", unanswered.saying(unanswered + in_build))
        seen = f"{rewrite.status} from {rewrite.header('x-care2-origin') or 'unknown'}{in_build}"
        check.that(reaches_backend(rewrite), "Frontend /api rewrite", "an answer from the backend", seen, rewrite,
                   rewrite_fix)
    with check.part():
        preflight = check.request(
            "OPTIONS", target.api("/api/story/start"), "CORS preflight", silent,
            headers={"origin": target.site_origin, "access-control-request-method": "POST",
                     "access-control-request-headers": "content-type"},
        )
        allowed = preflight.header("access-control-allow-origin")
        check.that(
            allowed in (target.site_origin, "*"), f"CORS from {target.site_origin} to {target.api_origin}",
            f"Access-Control-Allow-Origin: {target.site_origin}", f"{allowed or 'no such header'}", preflight,
            f"add {target.site_origin} to the backend's CORS allow-list (the browser will refuse every API call)",
        )
    with check.part():
        papi = check.get(target.site(target.paths.papi_probe), "Frontend /papi proxy", silent,
                         budget=target.budgets.papi)
        check.that(papi.status == 401, "Frontend /papi proxy without a session", 401, papi.status, papi,
                   "the frontend's server-side proxy does not reach the backend")
        check.that(papi.seconds <= target.budgets.papi, "Frontend /papi proxy time", f"<= {target.budgets.papi:g} s",
                   f"{papi.seconds:.1f} s", papi)
    notes: list[str] = []
    with check.part():  # a page or script of the story page that never ends breaks this part
        findings = apibase.judge(target, http, story_page_api_bases(target, check))
        notes = check.report_findings("API base in the Tell Your Story page's code", findings)
    check.report_findings("Frontend to backend", [])  # fails with every broken part's problem
    check.passed(f"rewrite, CORS for {target.site_origin} and /papi ({papi.timings.describe()}) all reach the "
                 f"backend; from this site the page's code calls no other API{''.join(f'; {note}' for note in notes)}")


def story_page_api_bases(target, check) -> list[apibase.ApiBase]:
    """API bases named in the scripts of the Tell Your Story page (none if it uses relative URLs).

    A page or script that never ends fails the check: its code cannot be judged."""
    page_url, http = target.site(target.paths.story_page), check.http
    found: list[apibase.ApiBase] = []
    try:  # an unreachable page or script is check (2)'s finding, not this one's
        page_answer = http.get(page_url)
        check.whole(page_answer, "The Tell Your Story page, whose code picks the API base,")
        page = Page.parse(page_answer.text)
        scripts = [absolute(page_url, ref) for ref in page.assets if ref.endswith(".js") and "/_next/static/" in ref]
        http.prefetch(scripts)  # a Next.js page has ten or so
        for url in scripts:
            script = http.get(url)
            check.whole(script, f"The Tell Your Story page's script {url}")
            found += apibase.api_bases(script.text, target.site_url)
    except NoAnswer:
        pass
    return found


def test_no_error_pages(target, http, check):
    """(7) No error pages: no Cloudflare 502/1033, no proxy or backend page where the site should be."""
    check.concerns("tunnel", "proxy", "frontend", "backend")
    urls = [target.site("/"), target.site(target.paths.story_page), target.api(target.paths.api_live)]
    unanswered, unfinished = [], []
    for url in urls:
        try:
            answer = http.get(url)
        except NoAnswer:
            unanswered.append(url)
            continue
        if answer.unfinished:  # its body was cut at the caps: not read, so not called an error page nor clean
            unfinished.append(url)
            continue
        error_page = classify(answer, target.expect.backend_welcome_title if url != urls[-1] else "")
        if error_page is not None:
            check.fail(f"Error page at {url}: {check.error_page(error_page, url)}", answer, error_page.fix)
    seen = len(urls) - len(unanswered) - len(unfinished)
    note = f"; no answer from {', '.join(unanswered)} (see the reachability checks)" if unanswered else ""
    note += f"; never ended, not read: {', '.join(unfinished)} (see the reachability checks)" if unfinished else ""
    check.passed(f"{seen} of {len(urls)} pages answered, none is an error page{note}")
