"""Ctrl-C in the middle of a run leaves nothing behind: no stage process, no Chromium, no PM2 daemon."""

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).parent.parent


def as_from_a_terminal() -> None:
    """Ctrl-C as a terminal's foreground command has it: a runner started in the background (CI) ignores
    SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def descendants(process: psutil.Process) -> dict[int, tuple[float, str]]:
    """pid -> (create_time, name) of everything below ``process`` (a reused pid is not mistaken for ours)."""
    found = {}
    for child in process.children(recursive=True):
        try:
            found[child.pid] = (child.create_time(), child.name())
        except psutil.NoSuchProcess:  # came and went between the listing and the look
            pass
    return found


def still_running(seen: dict[int, tuple[float, str]]) -> list[str]:
    alive = []
    for pid, (created, _) in seen.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return alive


@contextmanager
def watched(process: psutil.Process):
    """What runs below ``process``, seen from the moment its walk's Chromium is up (a second later); at the
    end, whatever the test says, everything seen is killed: never leave our own mess behind."""
    seen: dict[int, tuple[float, str]] = {}
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # wait until Chromium is up, in the middle of the walk
            seen |= descendants(process)
            if any("chrom" in name.lower() for _, name in seen.values()):
                break
            time.sleep(0.1)
        else:
            pytest.fail("Chromium never started")
        time.sleep(1)
        seen |= descendants(process)
        yield seen
    finally:
        for pid, (created, _) in seen.items():
            try:
                found = psutil.Process(pid)
                if found.create_time() == created:
                    found.kill()
            except psutil.NoSuchProcess:
                pass
        if process.poll() is None:
            process.kill()


def assert_all_gone(seen: dict[int, tuple[float, str]], after: str) -> None:
    gone_by = time.monotonic() + 15
    while still_running(seen) and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert not still_running(seen), f"left behind after {after}: {still_running(seen)}"


@pytest.mark.parametrize("interrupt", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_walk_leaves_no_process_behind(interrupt, tmp_path):
    command = [sys.executable, "-m", "fixtures.stage", "run", "--", sys.executable, "-m", "pytest", "-m", "browser",
               "--env-file={env_file}", f"--reports-dir={tmp_path}", "-p", "no:cacheprovider", "-q"]
    runner = psutil.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True, preexec_fn=as_from_a_terminal)
    with watched(runner) as seen:
        if interrupt == signal.SIGINT:
            os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole foreground group
        else:
            runner.kill()  # the stage's owner dies without a word
        runner.wait(timeout=90)
        assert_all_gone(seen, interrupt.name)
    if interrupt == signal.SIGINT:  # the stage stood until the interrupted run had written its report
        verdict = json.loads((tmp_path / "verdict.json").read_text(encoding="utf-8"))
        assert "the run was stopped" in verdict["reason"], verdict


@pytest.mark.skipif(os.name == "nt", reason="the stage does not run on Windows yet")
def test_ctrl_c_during_a_watch_ends_the_run_and_the_watch_and_leaves_nothing(tmp_path):
    from fixtures.stage import Stage

    with Stage(workdir=tmp_path / "stage", pm2=False) as stage:
        command = [sys.executable, "-m", "smoke.cli", "watch", "--every", "1s", "--runs", "50",
                   f"--env-file={stage.env_file}", f"--reports-dir={tmp_path / 'reports'}", "-p", "no:cacheprovider"]
        watching = psutil.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True, preexec_fn=as_from_a_terminal)  # a terminal's own group
        with watched(watching) as seen:  # the first run walks
            os.killpg(watching.pid, signal.SIGINT)  # Ctrl-C: the watch and its run
            said, _ = watching.communicate(timeout=90)
            assert_all_gone(seen, "Ctrl-C")
            assert watching.returncode == 2 and "run 1: interrupted; the watch ends" in said, said
            assert (tmp_path / "reports" / "verdict.json").is_file()  # the interrupted run still wrote its report
