"""One run of the pre-demo checks in a pytest process of its own, as watch and fix start them again and again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

STOP_GRACE = 60.0  # seconds an interrupted run gets to write its report before it is ended


def run_checks(pytest_args: list[str], environ: dict[str, str]) -> int:
    """pytest's exit code. Ctrl-C interrupts the run as it would a run of its own (its report is still written),
    then is raised again."""
    # POSIX: the run in a group of its own, so that a Ctrl-C reaches it once, from us (twice, and it would stop
    # writing its report); a Windows console sends Ctrl-C to both, as it should.
    child = subprocess.Popen([sys.executable, "-m", "pytest", *pytest_args], env=environ, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=os.name != "nt")
    try:
        return child.wait()
    except KeyboardInterrupt:
        stop(child)
        raise


def stop(child: subprocess.Popen) -> None:
    """Interrupt the run as Ctrl-C would, and give it time to write its report."""
    if os.name != "nt" and child.poll() is None:
        child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
