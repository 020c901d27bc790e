"""What the backend's health endpoints say, read strictly.

A 200 from /health/status does not mean the database is up: its ``status`` can be
``degraded`` with ``services.db.ok`` false. These readers pull out the fields that decide.

>>> DatabaseStatus.read({"ok": True, "status": "ready", "services": {"db": {"ok": True, "detail": "Connected"}}}).real
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Liveness:
    """/health/live: ``{"status": "alive", "service": "backend", "port": "3001", ...}``."""

    status: str
    service: str
    port: str

    @classmethod
    def read(cls, body: Any) -> Liveness:
        body = body if isinstance(body, dict) else {}
        return cls(str(body.get("status", "")), str(body.get("service", "")), str(body.get("port", "")))

    @property
    def alive(self) -> bool:
        return self.status == "alive"


@dataclass(frozen=True)
class DatabaseReadiness:
    """/health/db: ``{"ready": true, "databaseUrl": "configured", ...}`` or ``ready: false`` with ``error``."""

    ready: bool
    database_url: str
    message: str
    error: str

    @classmethod
    def read(cls, body: Any) -> DatabaseReadiness:
        body = body if isinstance(body, dict) else {}
        return cls(
            body.get("ready") is True,
            str(body.get("databaseUrl", "")),
            str(body.get("message", "")),
            str(body.get("error", "")),
        )

    @property
    def ok(self) -> bool:
        return self.ready and self.database_url == "configured"


@dataclass(frozen=True)
class DatabaseStatus:
    """/health/status's view of the database: ``services.db.ok`` and its detail."""

    status: str
    db_ok: bool
    detail: str

    @classmethod
    def read(cls, body: Any) -> DatabaseStatus:
        body = body if isinstance(body, dict) else {}
        services = body.get("services") if isinstance(body.get("services"), dict) else {}
        db = services.get("db") if isinstance(services.get("db"), dict) else {}
        return cls(str(body.get("status", "")), db.get("ok") is True, str(db.get("detail", "")))

    @property
    def file_store(self) -> bool:
        """The app runs without a real database (it falls back to files)."""
        return "filestore" in self.detail.replace(" ", "").lower()

    @property
    def real(self) -> bool:
        return self.db_ok and not self.file_store
