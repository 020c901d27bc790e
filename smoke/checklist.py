"""The presenter's checklist: its lines in order, in the presenter's words.

Plain data, imported by the report, its verdict and whoever else names the lines. A check joins a line
by starting its docstring with the line's number in parentheses: ``"(3) API health: ..."``.
"""

CHECKLIST = {
    1: "Site reachable",
    2: "Tell Your Story page",
    3: "API health",
    4: "Database",
    5: "Frontend to backend",
    6: "Tunnel",
    7: "No error pages",
    8: "Ports",
    9: "Processes",
    10: "The walk",
    11: "TLS",
    12: "Path on this host",
}
UNLISTED = 1000  # checks without a checklist number come after every line


def step_named(name: str) -> int:
    """The number of the checklist line called ``name`` ("Ports", in any case), or 0."""
    return next((step for step, listed in CHECKLIST.items() if listed.lower() == name.lower()), 0)
