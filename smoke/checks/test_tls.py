"""The pre-demo checklist, production part: certificates a browser will accept today and next week."""

import pytest

from smoke.probes.http import NoAnswer
from smoke.probes.tls import read_certificate

pytestmark = [pytest.mark.predemo, pytest.mark.production]


def test_tls_certificates(target, check):
    """(11) TLS: the site's and the API's certificates verify and do not expire soon."""
    origins = list(dict.fromkeys(url for url in (target.site_origin, target.api_origin) if url.startswith("https:")))
    if not origins:
        pytest.skip(f"no https URL in {target.name} ({target.site_url}, {target.api_url})")
    tls = target.tls
    renew = "renew the certificate (Cloudflare: the edge certificate; else the origin's)"
    seen = []
    for origin in origins:
        try:
            certificate, unanswered = read_certificate(origin, target.budgets.connect, tls.ca_file), None
        except NoAnswer as failure:
            unanswered = failure
        if unanswered:  # failing outside the except keeps the message free of a chained traceback
            check.fail(f"TLS certificate of {origin}: no handshake: {unanswered.reason}",
                       fix="the reachability checks say why; check DNS and the edge")
        if certificate.problem:
            check.fail(f"TLS certificate of {origin}: expected one that verifies, got: {certificate.problem}",
                       fix=f"browsers show a warning page instead of {origin}: install a certificate for "
                           f"{certificate.host} from a trusted CA, with its full chain")
        days = certificate.days_left()
        check.that(days > tls.fail_days, f"TLS certificate of {origin} expiry",
                   f"more than {tls.fail_days:g} days left", f"{days:.1f} days ({certificate.describe()})",
                   fix=f"{renew} now: browsers refuse it once it expires")
        if days <= tls.warn_days:
            check.warn(f"{certificate.describe()}: expires within {tls.warn_days:g} days: {renew}")
        seen.append(certificate.describe())
    check.passed("; ".join(seen))
