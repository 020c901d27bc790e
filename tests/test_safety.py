"""Production safety that a reading of the code can prove: no dangerous paths, the test header on every request."""

import ast
import re
import tomllib
from pathlib import Path

from smoke.probes.http import Client

SMOKE = Path(__file__).parent.parent / "smoke"
# One /api/test route shuts the real backend down; /admin is not ours to touch.
FORBIDDEN = re.compile(r"/(api/test|admin)(?![\w-])")
GUARDS = {"FORBIDDEN_PATHS"}  # names of the lists that exist to block these paths


def strings_in_code(path: Path):
    """(line, text) of each string literal, leaving out the values of the guard lists."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = {
        id(node)
        for statement in ast.walk(tree)
        if isinstance(statement, ast.Assign) and any(getattr(t, "id", "") in GUARDS for t in statement.targets)
        for node in ast.walk(statement.value)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in guarded:
            yield node.lineno, node.value


def strings_in_toml(value, where: str = ""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from strings_in_toml(inner, f"{where}.{key}".lstrip("."))
    elif isinstance(value, list):
        for inner in value:
            yield from strings_in_toml(inner, where)
    elif isinstance(value, str):
        yield where, value


def test_nothing_in_the_suite_names_api_test_or_admin():
    found = [f"{path.relative_to(SMOKE.parent)}:{line}: {text!r}"
             for path in sorted(SMOKE.rglob("*.py")) for line, text in strings_in_code(path) if FORBIDDEN.search(text)]
    for path in sorted(SMOKE.rglob("*.toml")):
        found += [f"{path.relative_to(SMOKE.parent)}: {key} = {text!r}"
                  for key, text in strings_in_toml(tomllib.loads(path.read_text(encoding="utf-8")))
                  if FORBIDDEN.search(text)]
    assert not found, "the suite must never call /api/test or /admin:\n" + "\n".join(found)


def test_the_pattern_catches_the_paths_and_spares_their_neighbours():
    assert all(FORBIDDEN.search(text) for text in ("/api/test/shutdown", "https://api.x.org/admin", "/admin?x=1"))
    assert not any(FORBIDDEN.search(text) for text in ("/api/testimonials", "/administrator", "/api/story/start"))


def test_every_request_carries_the_test_header(recorder):
    client = Client(connect=2, read=2, retry_delay=0)
    try:
        client.get(f"{recorder.url}/health/live")
        client.request("OPTIONS", f"{recorder.url}/api/story/start", headers={"origin": "http://localhost:3000"})
        client.request("POST", f"{recorder.url}/hook", json={"a": 1})
    finally:
        client.close()
    assert [request.headers.get("x-c2c-test") for request in recorder.requests] == ["1", "1", "1"]
