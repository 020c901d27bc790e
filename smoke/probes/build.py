"""Next's build in the frontend's working folder: where its rewrites send /api, its build id, when it was built.

`next build` fixes the rewrites (next.config.js: ``/api/:path*`` -> ``${NEXT_PUBLIC_API_URL}/:path*``) into
``.next/routes-manifest.json``; `next start` applies them as written there, whatever NEXT_PUBLIC_API_URL says when it
starts. ``.next/BUILD_ID`` names the build, and its time is the build's.

>>> build = read(r"C:\\Users\\care2\\Care2system\\frontend")   # doctest: +SKIP
>>> build.rewrite_for("/api/health").base, clock(build.built)   # doctest: +SKIP
('http://localhost:3001/api', '2026-12-07 17:34:39')
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..target import Target
from ..text import clock
from . import pm2, ports, processes
from .http import is_loopback

DIST = ".next"  # next.config.js may name another distDir; Care2's does not
MANIFEST_LIMIT = 1024 * 1024  # a routes manifest is a few KB; a bigger file is not one
PARAMETERS = re.compile(r"/[:(].*$")  # "/:path*" and what follows: the part of a route Next fills in per request


class BuildUnreadable(Exception):
    """There is a build, but its manifest cannot be read; ``str()`` says why in one line."""


@dataclass(frozen=True)
class Rewrite:
    """One rewrite of the build: ``source`` (``/api/:path*``) is sent to ``destination``; ``regex`` matches sources."""

    source: str
    destination: str
    regex: str

    def applies_to(self, path: str) -> bool:
        try:
            return re.match(self.regex, path) is not None
        except re.error:  # a JavaScript-only construct: fall back to the source's fixed head
            return path.startswith(self.prefix)

    @property
    def prefix(self) -> str:
        """The source without its parameters: ``/api``."""
        return PARAMETERS.sub("", self.source) or "/"

    @property
    def base(self) -> str:
        """The destination without its parameters: ``http://localhost:3001/api`` (NEXT_PUBLIC_API_URL at build)."""
        scheme, _, rest = self.destination.partition("://")
        return f"{scheme}://{PARAMETERS.sub('', rest)}" if rest else PARAMETERS.sub("", self.destination)

    @property
    def host(self) -> str:
        """The host the destination names ("" for a path: the frontend itself)."""
        return urlsplit(self.destination).hostname or ""

    @property
    def port(self) -> int | None:
        """The port the destination names (its scheme's default when it names none); None for a path."""
        parts = urlsplit(self.destination)
        if not parts.hostname:
            return None
        try:
            return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return None


@dataclass(frozen=True)
class NextBuild:
    """The build in ``folder`` (the folder the frontend runs in, holding .next)."""

    folder: str
    build_id: str
    built: float  # BUILD_ID's mtime, seconds since the epoch
    rewrites: tuple[Rewrite, ...]

    def rewrite_for(self, path: str) -> Rewrite | None:
        return next((rewrite for rewrite in self.rewrites if rewrite.applies_to(path)), None)


def read(folder: str) -> NextBuild | None:
    """The Next build in ``folder``; None when there is none (no .next/BUILD_ID: not a Next app's folder, or a
    folder this user may not read). BuildUnreadable when the build is there but its routes manifest is not."""
    dist = Path(folder) / DIST
    try:
        build_id = (dist / "BUILD_ID").read_text(encoding="utf-8", errors="replace").strip()
        built = (dist / "BUILD_ID").stat().st_mtime
    except OSError:
        return None
    manifest = dist / "routes-manifest.json"
    try:
        with manifest.open("rb") as opened:
            text = opened.read(MANIFEST_LIMIT + 1)
    except OSError as error:
        raise BuildUnreadable(f"{manifest}: {error.strerror or error}") from None
    if len(text) > MANIFEST_LIMIT:
        raise BuildUnreadable(f"{manifest}: over {MANIFEST_LIMIT // 1024} KB, not a routes manifest")
    try:
        rewrites = _rewrites(json.loads(text).get("rewrites"))
    except (ValueError, AttributeError):
        raise BuildUnreadable(f"{manifest}: not the JSON Next writes") from None
    return NextBuild(folder, build_id, built, rewrites)


def _rewrites(listed) -> tuple[Rewrite, ...]:
    """Next writes a plain list, or {beforeFiles, afterFiles, fallback} (applied in that order) when next.config.js
    returns the three phases."""
    if isinstance(listed, dict):
        listed = [entry for phase in ("beforeFiles", "afterFiles", "fallback") for entry in listed.get(phase) or []]
    return tuple(
        Rewrite(str(entry.get("source", "")), str(entry.get("destination", "")), str(entry.get("regex", "")))
        for entry in listed or [] if isinstance(entry, dict)
    )


# --- where the build is, and what it means for the rewrite -----------------------------------------------------------


def frontend_folder(target: Target, listing: pm2.Jlist | pm2.PM2Error | None,
                    owners: dict[int, processes.Owner]) -> str | None:
    """The folder the frontend runs in: the first of its processes (the holder of its port, whose build visitors
    get, then the others of ``owners``: care2.roots, each with its children) whose working folder holds a Next
    build, else the first working folder, else PM2's pm_cwd for it; None when none is known."""
    port = target.ports.frontend
    roots = [listener.pid for listener in (ports.listeners([port]) if port else []) if listener.pid]
    roots += [pid for pid, owner in owners.items() if owner.role == "frontend"]
    folders = [member.cwd for root in roots for member in processes.family([root]) if member.cwd]
    app = next((app for app in pm2.apps_of(listing) if app.name == target.pm2.apps.get("frontend")), None)
    folders += [app.cwd] if app is not None and app.cwd else []
    return next((folder for folder in folders if (Path(folder) / DIST / "BUILD_ID").is_file()), None) \
        or next(iter(folders), None)


def backend_ports(owners: dict[int, processes.Owner]) -> list[int]:
    """The ports the backend's processes (of ``owners``: care2.roots; and their children) listen on."""
    roots = [pid for pid, owner in owners.items() if owner.role == "backend"]
    pids = {member.pid for member in processes.family(roots)}
    return sorted({listener.port for listener in ports.listeners() if listener.pid in pids})


@dataclass(frozen=True)
class BuiltRewrite:
    """What the frontend's build on this host does with ``path``, against where the backend listens."""

    sentence: str  # "the frontend in /srv/care2/frontend was built with /api → http://localhost:3002/api (...)"
    elsewhere: bool  # the build sends ``path`` to this host, on a port the backend does not listen on


def built_rewrite(folder: str | None, path: str, listening: list[int]) -> BuiltRewrite:
    """``path``'s rewrite in the build in ``folder``, said against the backend's ports ``listening``."""
    if folder is None:
        return BuiltRewrite("the frontend's working folder cannot be read here (no process, no PM2 pm_cwd)", False)
    try:
        build = read(folder)
    except BuildUnreadable as error:
        return BuiltRewrite(f"the frontend's build cannot be read: {error}", False)
    if build is None:
        return BuiltRewrite(f"no Next build in {folder} ({DIST}/BUILD_ID is missing or unreadable)", False)
    rewrite = build.rewrite_for(path)
    when = f"build {build.build_id}, built {clock(build.built)}"
    if rewrite is None:
        return BuiltRewrite(f"the frontend in {folder} was built without a rewrite for {path} ({when})", False)
    said = f"the frontend in {folder} was built with {rewrite.prefix} → {rewrite.base} ({when})"
    backend = ", ".join(str(port) for port in listening)
    if rewrite.host and not is_loopback(rewrite.host):  # another host's backend: its ports are not known here
        return BuiltRewrite(f"{said}: another host, not checked from here", False)
    if not listening:
        return BuiltRewrite(f"{said}, while no backend process listens on any port", False)
    if rewrite.port in listening:
        return BuiltRewrite(f"{said}, where the backend listens", False)
    return BuiltRewrite(f"{said}, while the backend listens on {backend}", True)
