"""What the backend's health endpoints say, read strictly.

A 200 from /health/status does not mean the database is up: its ``status`` can be
``degraded`` with ``services.db.ok`` false. These readers pull out the fields that decide.

>>> DatabaseStatus.read({"ok": True, "status": "ready", "services": {"db": {"ok": True, "detail": "Connected"}}}).real
True
"""

from __future__ import annotations

from pydantic import Field

from .shapes import Body, Flag, Text


class Liveness(Body):
    """/health/live: ``{"status": "alive", "service": "backend", "port": "3001", ...}``."""

    status: Text = ""
    service: Text = ""
    port: Text = ""

    @property
    def alive(self) -> bool:
        return self.status == "alive"


class DatabaseReadiness(Body):
    """/health/db: ``{"ready": true, "databaseUrl": "configured", ...}`` or ``ready: false`` with ``error``."""

    ready: Flag = False
    database_url: Text = Field("", alias="databaseUrl")
    message: Text = ""
    error: Text = ""

    @property
    def ok(self) -> bool:
        return self.ready and self.database_url == "configured"


class ServiceState(Body):
    """One of /health/status's ``services``: ``{"ok": true, "detail": "Connected"}``."""

    ok: Flag = False
    detail: Text = ""


class Services(Body):
    db: ServiceState = ServiceState()


class DatabaseStatus(Body):
    """/health/status's view of the database: ``services.db.ok`` and its detail."""

    status: Text = ""
    services: Services = Services()

    @property
    def db_ok(self) -> bool:
        return self.services.db.ok

    @property
    def detail(self) -> str:
        return self.services.db.detail

    @property
    def file_store(self) -> bool:
        """The app runs without a real database (it falls back to files)."""
        return "filestore" in self.detail.replace(" ", "").lower()

    @property
    def real(self) -> bool:
        return self.db_ok and not self.file_store
