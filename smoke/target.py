"""The target: one object that says what the demo runs on and what the checks expect of it.

It is read from the bundled ``environments.toml``, optionally laid under a user's file
(``--env-file``), then single values from ``SMOKE_<SECTION>_<KEY>`` variables. Every
problem is a ``TargetError`` with one line naming the file, the environment and the key.

>>> target = load_target("local")
>>> target.api("/health/live")
'http://localhost:3001/health/live'
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

BUNDLED_FILE = Path(__file__).with_name("environments.toml")
ENV_PREFIX = "SMOKE_"

Port = Annotated[int, Field(ge=0, le=65535)]
Seconds = Annotated[float, Field(gt=0)]


class TargetError(Exception):
    """The environments are unusable; the message is the one line a user sees."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ports(_Section):
    frontend: Port
    backend: Port
    proxy: Port = 0
    failover_span: Annotated[int, Field(ge=0, le=50)] = 5


class Hostnames(_Section):
    """The public host names visitors use: the tunnel's ingress and the proxy route by them (the Host header)."""

    site: str
    api: str


class Paths(_Section):
    site_health: str
    api_live: str
    api_db: str
    api_status: str
    story_page: str
    papi_probe: str
    rewrite_probe: str


class Expect(_Section):
    title: str
    home_h1: str
    story_link: str
    consent_h1: str
    continue_button: str
    backend_welcome_title: str


class Budgets(_Section):
    connect: Seconds
    read: Seconds
    page: Seconds
    body_mb: Annotated[float, Field(gt=0)]
    health: Seconds
    papi: Seconds
    retry_delay: Annotated[float, Field(ge=0)]
    browser_step: Seconds
    processing: Seconds
    recording: Seconds


class PM2(_Section):
    command: list[str] = Field(min_length=1)
    memory_floor: Annotated[int, Field(ge=0)]
    min_uptime: Seconds
    max_restarts: Annotated[int, Field(ge=0)]
    apps: dict[str, str]
    timeout: Seconds = 15.0
    optional: list[str] = []

    @field_validator("optional")
    @classmethod
    def _optional_roles_known(cls, optional: list[str], info: ValidationInfo) -> list[str]:
        roles = info.data.get("apps", {})
        unknown = [role for role in optional if role not in roles]
        if unknown:
            raise ValueError(f"names roles not in pm2.apps: {', '.join(unknown)} (roles: {', '.join(roles)})")
        return optional


class Tunnel(_Section):
    name: str
    metrics: str
    config: str
    min_uptime: Seconds
    max_uptime: Seconds
    ha_connections: Annotated[int, Field(ge=1)]


class TLS(_Section):
    warn_days: Annotated[float, Field(ge=0)]
    fail_days: Annotated[float, Field(ge=0)]
    ca_file: str


class Runner(_Section):
    reference_url: str

    @field_validator("reference_url")
    @classmethod
    def _empty_or_http_url(cls, url: str) -> str:
        return url and _absolute_http_url(url)


class Alerts(_Section):
    after_failures: Annotated[int, Field(ge=1)]
    on_recovery: bool
    state_file: str


class History(_Section):
    flap_window: Seconds
    max_age: Seconds
    max_runs: Annotated[int, Field(ge=2)]
    strip: Annotated[int, Field(ge=1)]


class AppConfig(_Section):
    """The app's own files that name its ports; "" = not compared."""

    backend_env: str = ""
    ecosystem: str = ""
    frontend_env: str = ""
    checkout: str = ""  # the app's source folder: `care2-predemo fix` says where in it a code defect is


class Target(_Section):
    name: str
    kind: Literal["local", "production"]
    site_url: str
    api_url: str
    host_checks: bool
    allow_writes: bool
    fallback: str = ""  # another environment care2-predemo checks beside this one, to present from if this fails
    secrets: list[str]
    chromium_args: list[str]
    ports: Ports
    hostnames: Hostnames
    paths: Paths
    expect: Expect
    budgets: Budgets
    pm2: PM2
    tunnel: Tunnel
    app_config: AppConfig = AppConfig()
    tls: TLS
    runner: Runner
    alerts: Alerts
    history: History

    @field_validator("site_url", "api_url")
    @classmethod
    def _absolute_http_url(cls, url: str) -> str:
        return _absolute_http_url(url)

    def site(self, path: str = "/") -> str:
        return self.site_url + path

    def api(self, path: str = "/") -> str:
        return self.api_url + path

    def service_port(self, role: str) -> int | None:
        """The configured port of a role (0: the role has no service here); ``None`` for roles without a port."""
        return {"frontend": self.ports.frontend, "backend": self.ports.backend, "proxy": self.ports.proxy}.get(role)

    @property
    def required_apps(self) -> dict[str, str]:
        """Role -> PM2 app name of every app that must run under PM2 (not optional, not switched off by port 0)."""
        return {
            role: name for role, name in self.pm2.apps.items()
            if role not in self.pm2.optional and self.service_port(role) != 0
        }

    @property
    def site_origin(self) -> str:
        return _origin(self.site_url)

    @property
    def api_origin(self) -> str:
        return _origin(self.api_url)


def _absolute_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL (e.g. http://localhost:3000)")
    try:
        parts.port  # noqa: B018 (urlsplit checks the range only when the port is read)
    except ValueError:
        raise ValueError(f"{url!r} has a port out of range (1-65535)") from None
    return url.rstrip("/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def load_target(
    name: str,
    env_file: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """The environment ``name`` from the bundled file, ``env_file`` laid over it, then ``environ``."""
    environ = os.environ if environ is None else environ
    document = _read_toml(BUNDLED_FILE)
    source = str(BUNDLED_FILE)
    if env_file:
        document = _merge(document, _read_toml(Path(env_file)))
        source = str(env_file)
    environments = document.get("environments", {})
    if name not in environments:
        known = ", ".join(sorted(environments)) or "none"
        raise TargetError(f"unknown environment {name!r} in {source} (known: {known})")
    values = _merge(document.get("defaults", {}), _resolve(environments, name, source))
    values = _apply_overrides(values, environ)
    try:
        return Target(name=name, **values)
    except ValidationError as error:
        raise TargetError(f"environment {name!r} in {source}: {_first_problem(error)}") from None


def chosen_environment(given: str | None = None) -> str:
    """The environment to check: ``given`` (--env), else SMOKE_ENV, else local."""
    return given or os.environ.get("SMOKE_ENV") or "local"


def chosen_environment_file(given: str | None = None) -> str | None:
    """The environments file laid over the bundled one: ``given`` (--env-file), else SMOKE_ENV_FILE, else none."""
    return given or os.environ.get("SMOKE_ENV_FILE") or None


def environment_names(env_file: str | os.PathLike | None = None) -> list[str]:
    document = _read_toml(BUNDLED_FILE)
    if env_file:
        document = _merge(document, _read_toml(Path(env_file)))
    return sorted(document.get("environments", {}))


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise TargetError(f"environments file not found: {path}") from None
    except OSError as error:
        raise TargetError(f"cannot read environments file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise TargetError(f"environments file {path} is not valid TOML: {error}") from None


def _resolve(environments: dict, name: str, source: str, seen: tuple[str, ...] = ()) -> dict:
    """The environment's own table with its ``extends`` chain applied beneath it."""
    if name in seen:
        raise TargetError(f"environments in {source} extend each other in a loop: {' -> '.join(seen + (name,))}")
    if name not in environments:
        raise TargetError(f"environment {seen[-1]!r} in {source} extends unknown environment {name!r}")
    table = dict(environments[name])
    parent = table.pop("extends", None)
    if parent is None:
        return table
    return _merge(_resolve(environments, parent, source, seen + (name,)), table)


def _merge(base: dict, over: dict) -> dict:
    merged = dict(base)
    for key, value in over.items():
        # an empty table replaces: `[x.pm2.apps]` with nothing in it says "no PM2 here"
        if isinstance(value, dict) and value and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _apply_overrides(values: dict, environ: Mapping[str, str]) -> dict:
    """``SMOKE_PORTS_BACKEND=3002`` replaces ports.backend; TOML syntax for lists and booleans."""
    values = dict(values)
    for key, value in list(values.items()):
        if isinstance(value, dict):
            values[key] = {
                inner: _parse_override(environ[var])
                if (var := f"{ENV_PREFIX}{key}_{inner}".upper()) in environ
                else inner_value
                for inner, inner_value in value.items()
            }
        elif (var := f"{ENV_PREFIX}{key}".upper()) in environ:
            values[key] = _parse_override(environ[var])
    return values


def _parse_override(text: str):
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word or URL: pydantic decides whether a string fits the key


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "file"
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] == "missing":
        return f"{where}: missing (add it to the environment or to [defaults])"
    if problem["type"] == "extra_forbidden":
        return f"{where}: unknown key (typo?)"
    return f"{where}: {message} (got {problem.get('input')!r})"
