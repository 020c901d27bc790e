"""The run's files: their names (never overwriting an older run's), the fixed-name copies, kept traces."""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from ..folders import writable
from ..redact import Redactor


@dataclass
class ReportFiles:
    """Where this run's files go. ``page``/``junit`` are the real paths, whoever chose them."""

    folder: Path
    stem: str
    page: Path
    junit: Path

    @classmethod
    def choose(cls, config: pytest.Config) -> ReportFiles:
        """Our names unless the command line gave --html / --junitxml; the page always self-contained."""
        chosen = config.getoption("reports_dir")
        folder = Path(config.invocation_params.dir, chosen or "reports")  # ./reports where the run was started
        writable(folder, "the reports folder", "give another with SMOKE_REPORTS_DIR or --reports-dir")
        environment = re.sub(r"[^\w.-]+", "-", str(config.getoption("env")))
        base = f"predemo-{environment}-{datetime.now():%Y%m%d-%H%M%S}"
        stem, number = base, 1
        while any(folder.glob(f"{stem}.*")) or any(folder.glob(f"{stem}-*")):  # never overwrite a report
            number += 1
            stem = f"{base}-{number}"
        if not config.option.htmlpath:
            config.option.htmlpath = str(folder / f"{stem}.html")
        config.option.self_contained_html = True  # one file the presenter can open from email or chat
        if not config.option.xmlpath:
            config.option.xmlpath = str(folder / f"{stem}.xml")
        where = config.invocation_params.dir
        return cls(folder, stem, Path(where, config.option.htmlpath), Path(where, config.option.xmlpath))

    @property
    def verdict(self) -> Path:
        return self.folder / f"{self.stem}.json"

    def latest(self) -> list[tuple[Path, Path]]:
        """(this run's file, its fixed name): latest.html, latest.xml, verdict.json."""
        return [(self.page, self.folder / "latest.html"), (self.junit, self.folder / "latest.xml"),
                (self.verdict, self.folder / "verdict.json")]

    def copy_latest(self) -> None:
        """The fixed names now hold this run's files."""
        for path, fixed in self.latest():
            if path.is_file() and path.resolve() != fixed.resolve():
                shutil.copyfile(path, fixed)

    def keep_traces(self, traces: list[Path], nodeid: str, redactor: Redactor) -> list[Path]:
        """A check's traces, scrubbed and copied beside the report (each once; missing ones left out)."""
        check = re.sub(r"[^\w.]+", "-", nodeid.split("::")[-1]).strip("-")[:60]
        kept = [self.keep_trace(path, check, redactor) for path in dict.fromkeys(traces) if path.is_file()]
        return [path for path in kept if path is not None]

    def keep_trace(self, path: Path, check: str, redactor: Redactor) -> Path | None:
        """Scrub the trace where it is and copy it beside the report, named after the run and the check.

        A trace that cannot be read cannot be scrubbed either: it is deleted rather than kept with secrets.
        """
        try:
            redactor.trace(path)
        except (zipfile.BadZipFile, OSError):
            path.unlink(missing_ok=True)
            return None
        kept = self.page.with_name(f"{self.stem}-{check}-{path.name}")
        if kept.resolve() != path.resolve():
            shutil.copyfile(path, kept)
        return kept


def shown_path(path: Path, config: pytest.Config) -> str:
    """``path`` as the person who started the run would type it: relative to where they ran it, if inside."""
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)
