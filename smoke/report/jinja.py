"""The report's Jinja2 templates (smoke/report/templates/): HTML autoescaped by markupsafe, CSS and
script files inlined, so that every page stays one self-contained file.

Imported only when a page is made: Jinja2 is no cost at the start of a run.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")


@cache
def environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "jinja"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)


def macro(template: str, name: str):
    """One macro of ``template``, callable from Python: its HTML, as markupsafe.Markup."""
    return getattr(environment().get_template(template).module, name)
