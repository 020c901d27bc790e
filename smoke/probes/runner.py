"""Can this machine judge the target at all? Its own network must reach a reference URL first.

A CI runner whose network is down would otherwise report every check red and page people about a
production that is fine. Any HTTP answer from the reference proves the network works. A target on
this machine (a stage) is reached without any network, so an outside reference is not asked then.

>>> runner_problem(load_target("production-ci"))   # doctest: +SKIP
''
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..target import Target
from .http import Client, NoAnswer, is_loopback


def runner_problem(target: Target) -> str:
    """Why this machine cannot judge ``target`` (its network is down); "" when it can or nothing is configured."""
    url = target.runner.reference_url
    if not url or (on_this_machine(target.site_url) and on_this_machine(target.api_url) and not on_this_machine(url)):
        return ""
    client = Client.with_budgets(target.budgets)
    try:
        client.request("GET", url)
    except NoAnswer as failure:
        return (f"this machine's own network does not work: {failure} (runner.reference_url); "
                f"{target.name} was not judged: fix the runner's network or proxy, then run again")
    finally:
        client.close()
    return ""


def on_this_machine(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")
