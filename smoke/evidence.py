"""What the demo host holds that explains a red line: evidence lines, per role, from providers.

A provider is a callable ``(role) -> lines``: it reads what it knows of ``role`` ("frontend", "backend",
"tunnel", "proxy") when first asked, and says nothing when it has nothing. The logs are one provider
(smoke/probes/logs.py); another kind of evidence (a process's state, a build fact) is another provider,
added to the list the ``evidence`` fixture builds (smoke/plugin.py). A provider that breaks costs its own
lines only: a red line never waits on, or fails for, its evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

Provider = Callable[[str], Sequence[str]]


class Evidence:
    """The providers of this run; ``lines(roles)`` is what a red line concerning those roles quotes."""

    def __init__(self, providers: Iterable[Provider] = ()):
        self.providers = list(providers)

    def lines(self, roles: Iterable[str]) -> list[str]:
        found: list[str] = []
        for role in dict.fromkeys(roles):
            for provider in self.providers:
                try:
                    said = provider(role)
                except Exception as error:  # noqa: BLE001 (evidence is a bonus: its failure must not hide the red line)
                    said = [f"{role}: evidence could not be read ({type(error).__name__}: {error})"]
                found += [line for line in said if line not in found]
        return found
