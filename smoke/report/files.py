"""The run's files: their names (never overwriting an older run's), the fixed-name copies, kept traces."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from ..folders import writable
from ..redact import Redactor

INCIDENT_FILE = 512 * 1024  # bytes of one file in the incident bundle (its end: a log's newest lines)
INCIDENT_TOTAL = 8 * 1024 * 1024  # bytes of the whole bundle, before compression


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

    @property
    def incident(self) -> Path:
        """incident-<env>-<time>.zip: a NO-GO's diagnostics from the demo host."""
        return self.folder / f"{self.stem.replace('predemo-', 'incident-', 1)}.zip"

    def write_incident(self, path: Path, gather: Callable[[], dict[str, str]], redactor: Redactor) -> None:
        """The bundle: this run's verdict, report and JUnit file, and the host's facts, each scrubbed, a fact cut to
        its last INCIDENT_FILE bytes, INCIDENT_TOTAL at most in all. Facts that cannot be gathered are named."""
        files = {"verdict.json": self.verdict, "report.html": self.page, "junit.xml": self.junit}
        members = {name: source.read_text(encoding="utf-8", errors="replace")
                   for name, source in files.items() if source.is_file()}
        try:
            members |= gather()
        except Exception as error:  # noqa: BLE001 (the bundle is for afterwards: it must never break the run's end)
            members["notes.txt"] = f"the host's facts could not be gathered: {type(error).__name__}: {error}\n"
        total = 0
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in members.items():
                data = redactor.text(text).encode("utf-8")
                # this run's own files whole (a page cut short is no page); a fact's end
                data = data if name in files else data[-INCIDENT_FILE:]
                if total + len(data) > INCIDENT_TOTAL:
                    bundle.writestr("truncated.txt", f"left out from {name} on: the bundle holds {total} bytes\n")
                    break
                total += len(data)
                bundle.writestr(name, data)

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
