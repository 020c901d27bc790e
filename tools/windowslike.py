"""Run Python with what Windows lacks taken out of the process: the suite's own Windows self-test on any OS.

    python tools/windowslike.py -m pytest -m predemo --env-file=...

Before pytest (or whatever module follows ``-m``) is imported, the POSIX-only parts of ``signal`` and ``os``
are deleted (SIGALRM, setitimer, SIGKILL, fork, killpg, setsid, getpgid, ...) and the POSIX-only modules made
unimportable (fcntl, pwd, grp, termios, resource); then the module runs as ``python -m`` would run it.
A library that asks for one of them (``hasattr(signal, "SIGALRM")``) sees what it would see on Windows;
one that uses one anyway fails here as it would fail there.

What it cannot take away: the standard library's and psutil's own POSIX code paths (subprocess, asyncio,
psutil's Linux backend) reach the C functions directly, as their Windows code paths do not; psutil is
imported before the take-away, as its Linux backend needs ``resource``.
"""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys

import psutil  # noqa: F401  (its Linux backend imports resource; on Windows it has a backend of its own)

# What the signal module has on Windows (docs.python.org/3/library/signal.html, "On Windows ...").
WINDOWS_SIGNALS = {"SIGABRT", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM"}
SIGNAL_FUNCTIONS = ("alarm", "pause", "setitimer", "getitimer", "siginterrupt", "pthread_kill", "pthread_sigmask",
                    "sigpending", "sigwait", "sigwaitinfo", "sigtimedwait", "pidfd_send_signal", "ItimerError")
# Process control; the user and group ids stay, as libraries with a POSIX backend (platformdirs) read them at import.
OS_FUNCTIONS = ("fork", "forkpty", "register_at_fork", "killpg", "setsid", "getsid", "getpgid", "setpgid",
                "getpgrp", "setpgrp", "wait3", "wait4", "nice", "mkfifo", "openpty")
POSIX_MODULES = ("fcntl", "pwd", "grp", "termios", "resource")


def take_away() -> None:
    """Delete what Windows lacks."""
    kill = getattr(signal, "SIGKILL", None)  # None on Windows itself, where there is nothing to take away
    for name in [*dir(signal)]:
        posix_signal = name.startswith("SIG") and not name.startswith("SIG_") and name not in WINDOWS_SIGNALS
        if posix_signal or name in SIGNAL_FUNCTIONS or name.startswith("ITIMER_"):
            delattr(signal, name)
    for name in OS_FUNCTIONS:
        if hasattr(os, name):
            delattr(os, name)
    for name in POSIX_MODULES:
        sys.modules[name] = None  # import fails with ImportError, as on Windows
    if kill is not None:  # on Windows Popen.kill() is TerminateProcess; here it sends the signal it can no longer name
        subprocess.Popen.kill = lambda self: self.send_signal(kill)


def main() -> None:
    if sys.argv[1:2] != ["-m"] or len(sys.argv) < 3:
        sys.exit("usage: python tools/windowslike.py -m MODULE [ARGS...]")
    take_away()
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    sys.path[0] = os.getcwd()  # as `python -m` has it, not this file's folder
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
