"""The report's Jinja2 templates (smoke/report/templates/): HTML autoescaped by markupsafe, CSS and
script files inlined, so that every page stays one self-contained file.

Imported only when a page is made: Jinja2 is no cost at the start of a run. The templates are compiled
once and kept in Jinja2's per-user cache folder (compiling them was a tenth of a run without the walk).
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)

TEMPLATES = Path(__file__).with_name("templates")


class CompiledTemplates(FileSystemBytecodeCache):
    """Jinja2's cache of compiled templates (keyed by each template's source), that never fails a page: one
    that cannot be written is not kept."""

    def dump_bytecode(self, bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def compiled_templates() -> BytecodeCache | None:
    try:
        return CompiledTemplates()
    except (OSError, RuntimeError):  # no temp folder of this user's own (RuntimeError): compiled each time
        return None


@cache
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "jinja"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                       bytecode_cache=compiled_templates())


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)


def macro(template: str, name: str):
    """One macro of ``template``, callable from Python: its HTML, as markupsafe.Markup."""
    return getattr(environment().get_template(template).module, name)
