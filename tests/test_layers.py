"""The suite's modules import one way down: no import circle among smoke's modules, not even one hidden in a
function. Read from the source with ast, so an import deferred into a function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parent.parent / "smoke"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def type_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:`: never run, so it closes no circle."""
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found, pending = [], [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        pending += [child for child in ast.iter_child_nodes(node) if not type_only(child)]
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``root``'s package it imports, wherever in the module the import is."""
    paths = {module_name(path, root): path for path in root.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        wanted = set()
        for node in imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                wanted |= {alias.name for alias in node.names}
                continue
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & paths.keys()
            # `from . import x` loads the submodule x; its package is loaded before it in any case
            wanted |= submodules if len(submodules) == len(node.names) else submodules | {base}
        graph[name] = {module for module in wanted if module in paths and module != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once, as the modules around it."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        for imported in sorted(graph[module]):
            if imported in path:
                circle = path[path.index(imported):]
                turned = circle.index(min(circle))
                circle = circle[turned:] + circle[:turned]
                if circle not in found:
                    found.append(circle)
            elif imported not in done:
                visit(imported, [*path, imported])
        done.add(module)

    for module in sorted(graph):
        visit(module, [module])
    return found


def test_no_import_circle_among_the_suites_modules():
    found = circles(import_graph(SMOKE))
    assert not found, "import circles: " + "; ".join(" -> ".join([*circle, circle[0]]) for circle in found)


@pytest.mark.parametrize("source, circle", [
    ({"a.py": "from . import b\n", "b.py": "def f():\n    from .a import g\n"}, ["pkg.a", "pkg.b"]),
    ({"a.py": "import pkg.b\n", "b.py": "from .c import x\n", "c.py": "from pkg import a\n"},
     ["pkg.a", "pkg.b", "pkg.c"]),
])
def test_a_circle_is_found_even_when_an_import_hides_in_a_function(tmp_path, source, circle):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, text in source.items():
        (root / name).write_text(text)
    assert circles(import_graph(root)) == [circle]


def test_a_type_only_import_and_a_submodule_of_its_own_package_close_no_circle(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "__init__.py").write_text("def load():\n    from . import a\n")
    (root / "a.py").write_text("from typing import TYPE_CHECKING\nfrom . import b\nif TYPE_CHECKING:\n"
                               "    from .b import B\n")
    (root / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n")
    assert circles(import_graph(root)) == []
