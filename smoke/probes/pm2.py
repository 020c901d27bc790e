"""What PM2 says about the apps (``pm2 jlist``), and whether the processes it names are real.

"online" only means PM2 spawned the app once. PM2 shows memory 0 when it cannot read the
process's usage, so online with 0 b, with pid 0 or with a dead pid is the zombie signature.

>>> listing = parse_jlist('[{"name": "careconnect-backend-prod", "pm_id": 0, "pid": 0,'
...                       ' "pm2_env": {"status": "stopped"}, "monit": {"memory": 0, "cpu": 0}}]')
>>> listing.app("careconnect-backend-prod").status
'stopped'
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import psutil
from pydantic import BeforeValidator

from ..text import one_line
from .shapes import Body

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DAEMON_STARTED = "Spawning PM2 daemon"
# npm.cmd, next.cmd...: on Windows `script: "npm"` resolves to a batch file that PM2, finding no interpreter
# for its extension (PM2's lib/API/interpreter.json), hands to Node: a SyntaxError on its first line.
WINDOWS_SHIMS = (".cmd", ".bat", ".ps1")


class PM2Error(Exception):
    """PM2 could not be read. ``str()`` says why in one line; ``fix`` says what to run."""

    def __init__(self, problem: str, fix: str):
        super().__init__(problem)
        self.fix = fix


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# PM2's fields as it may write them: a number as a number or as text; text of any kind, empty when missing or null
Number = Annotated[int | None, BeforeValidator(_int)]
Real = Annotated[float | None, BeforeValidator(_float)]
Word = Annotated[str, BeforeValidator(lambda value: str(value or ""))]


class Monit(Body):
    memory: Number = None
    cpu: Real = None


class AppEnvironment(Body):
    """pm2_env.env: the environment PM2 started the app with."""

    PORT: Any = None


class Pm2Env(Body):
    """pm2_env: PM2's record of the app, with the app's environment flattened into it."""

    name: Word = ""
    pm_id: Any = None
    status: Word = ""
    pm_uptime: Number = None
    restart_time: Number = None
    unstable_restarts: Number = None
    PORT: Any = ""
    pm_exec_path: Word = ""
    exec_interpreter: Word = ""
    pm_out_log_path: Word = ""
    pm_err_log_path: Word = ""
    PM2_HOME: Word = ""
    pm_cwd: Word = ""
    max_memory_restart: Number = None
    env: AppEnvironment = AppEnvironment()


class Entry(Body):
    """One entry of ``pm2 jlist`` as PM2 writes it."""

    name: Word = ""
    pm_id: Any = None
    pid: Number = None
    pm2_env: Pm2Env = Pm2Env()
    monit: Monit = Monit()


@dataclass(frozen=True)
class App:
    """One entry of ``pm2 jlist``."""

    name: str
    pm_id: int | None
    pid: int  # 0: PM2 has no process for it
    status: str  # online, stopped, errored, waiting restart, launching, stopping, one-launch-status
    started_ms: int | None  # pm2_env.pm_uptime: when PM2 last (re)started it, ms since the epoch
    restarts: int  # pm2_env.restart_time: every restart, by PM2 or by hand
    unstable_restarts: int  # restarts after living less than PM2's own min_uptime
    memory: int | None  # monit.memory, bytes; None when PM2 gave no figure
    cpu: float | None
    port: str = ""  # PORT in the environment PM2 started it with
    script: str = ""  # pm2_env.pm_exec_path: what PM2 runs
    interpreter: str = ""  # pm2_env.exec_interpreter: what runs it ("none" for a binary)
    out_log: str = ""  # pm2_env.pm_out_log_path: the app's stdout, kept by PM2
    err_log: str = ""  # pm2_env.pm_err_log_path: its stderr (the same file when PM2 merges them)
    home: str = ""  # PM2_HOME of the daemon that runs it (its own log: pm2.log there)
    cwd: str = ""  # pm2_env.pm_cwd: the folder it runs in
    max_memory: int | None = None  # pm2_env.max_memory_restart, bytes: PM2 restarts it above this

    @classmethod
    def read(cls, entry: Mapping[str, Any]) -> App:
        seen = Entry.read(entry)
        env, monit, inner = seen.pm2_env, seen.monit, seen.pm2_env.env
        return cls(
            name=seen.name or env.name,
            pm_id=_int(seen.pm_id if "pm_id" in seen.model_fields_set else env.pm_id),
            pid=seen.pid or 0,
            status=env.status or "unknown",
            started_ms=env.pm_uptime,
            restarts=env.restart_time or 0,
            unstable_restarts=env.unstable_restarts or 0,
            memory=monit.memory,
            cpu=monit.cpu,
            port=str((inner.PORT if "PORT" in inner.model_fields_set else env.PORT) or ""),
            script=env.pm_exec_path,
            interpreter=env.exec_interpreter,
            out_log=env.pm_out_log_path,
            err_log=env.pm_err_log_path,
            home=env.PM2_HOME,
            cwd=env.pm_cwd,
            max_memory=env.max_memory_restart,
        )

    @property
    def online(self) -> bool:
        return self.status == "online"

    @property
    def shim_run_by_node(self) -> bool:
        """PM2 runs a Windows shim (npm.cmd) with Node, which cannot read it: the app dies as it starts."""
        interpreter = re.split(r"[\\/]", self.interpreter)[-1].lower()
        return self.script.lower().endswith(WINDOWS_SHIMS) and interpreter.startswith("node")

    def uptime(self, now: float) -> float | None:
        """Seconds since PM2 last (re)started it; ``now`` in seconds since the epoch."""
        return None if self.started_ms is None else max(0.0, now - self.started_ms / 1000)

    def process(self) -> psutil.Process | None:
        """The live process behind ``pid``; ``None`` for pid 0, a dead pid or a zombie."""
        if self.pid <= 0:
            return None
        try:
            process = psutil.Process(self.pid)
            zombie = process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:  # ZombieProcess is one too
            return None
        except psutil.AccessDenied:  # another user's process: it exists, its state is not ours to read
            zombie = False
        return None if zombie else process

    @property
    def label(self) -> str:
        return f"{self.name} (pm_id {self.pm_id if self.pm_id is not None else '?'}, pid {self.pid})"


@dataclass(frozen=True)
class Jlist:
    """The apps PM2 listed, and what else it printed (warnings, a daemon it had to start)."""

    apps: tuple[App, ...]
    notes: tuple[str, ...] = ()
    daemon_started: bool = False  # no daemon was running: pm2 started a new, empty one

    def app(self, name: str) -> App | None:
        return next((app for app in self.apps if app.name == name), None)

    @property
    def names(self) -> list[str]:
        return [app.name for app in self.apps]


def read_jlist(command: Sequence[str], timeout: float) -> Jlist:
    """Run ``command`` (normally ``pm2 jlist``) and parse what it prints.

    Like every pm2 command, ``pm2 jlist`` starts a daemon when none runs; ``daemon_started`` says so.
    """
    shown = " ".join(command)
    executable = shutil.which(command[0])  # also finds pm2.cmd on Windows
    if executable is None:
        raise PM2Error(
            f"PM2 is not installed here: {command[0]!r} is not on PATH (pm2.command = {list(command)})",
            "install PM2 (npm install -g pm2), or set pm2.command in the environments file to the pm2 the app runs "
            "under; if this environment does not use PM2, set [pm2.apps] to {}",
        )
    try:
        done = subprocess.run(
            [executable, *command[1:]], capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise PM2Error(
            f"`{shown}` did not finish within {timeout:g} s: the PM2 daemon is not answering",
            "run `pm2 ping`; if it hangs too, the daemon is stuck: `pm2 kill` then `pm2 resurrect` (restarts the apps)",
        ) from None
    except OSError as error:
        raise PM2Error(
            f"cannot run `{shown}`: {error.strerror or error}", "check pm2.command in the environments file"
        ) from None
    output = done.stdout.decode("utf-8", errors="replace")
    if done.returncode != 0:
        said = _last_line(done.stderr.decode("utf-8", errors="replace")) or _last_line(output) or "no output"
        raise PM2Error(
            f"`{shown}` failed with exit code {done.returncode}: {said}",
            "run it by hand to see why; `pm2 ping` tells whether this user's PM2 daemon answers",
        )
    return parse_jlist(output, shown)


def parse_jlist(output: str, source: str = "pm2 jlist") -> Jlist:
    """The apps in ``pm2 jlist`` output, which may carry a banner and notices before the JSON.

    Duplicate keys (PM2 flattens the app's environment into pm2_env: ``username`` next to
    ``USERNAME``, or a variable named like one of PM2's fields) resolve as in JavaScript: the last
    one counts, so the fields read here are what ``pm2 ls`` shows.
    """
    text = ANSI.sub("", output)
    found = _json_list(text)
    if found is None:
        raise PM2Error(
            f"`{source}` printed no JSON list of apps: {one_line(text) or 'nothing'}",
            "run `pm2 jlist` by hand; a PM2 that prints something else is broken or is not PM2 (pm2 update)",
        )
    entries, start = found
    if not all(isinstance(entry, dict) for entry in entries):
        raise PM2Error(
            f"`{source}` printed a list that is not of apps: {one_line(text[start:])}", "run `pm2 jlist` by hand"
        )
    before = text[:start]
    notes = tuple(line.strip() for line in before.splitlines() if line.strip().startswith(("[PM2", ">>>>")))
    return Jlist(tuple(App.read(entry) for entry in entries), notes, DAEMON_STARTED in before)


def _json_list(text: str) -> tuple[list, int] | None:
    """The JSON list that ends the output, and where it starts."""
    decoder = json.JSONDecoder(object_pairs_hook=dict)  # dict(): a repeated key keeps its last value
    for match in re.finditer(r"\[", text):
        try:
            value, end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(value, list) and not text[end:].strip():
            return value, match.start()
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in ANSI.sub("", text).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def apps_of(listing: Jlist | PM2Error | None) -> tuple[App, ...]:
    return listing.apps if isinstance(listing, Jlist) else ()
