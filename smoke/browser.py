"""Finding a Chromium to drive: Playwright's own if installed, else one from the system.

``python -m smoke.browser`` prints the one it would use, or says how to install one.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

WAYS_TO_GET_ONE = {
    "win32": r"install Microsoft Edge or Google Chrome (winget install Google.Chrome), or run "
             r"`.venv\Scripts\playwright install chromium`",
}.get(sys.platform, "install one with `apt-get install chromium` (Debian/Ubuntu), `playwright install chromium`, "
                    "or Google Chrome")
INSTALL_HINT = f"no Chromium, Chrome or Edge found: {WAYS_TO_GET_ONE}; or set SMOKE_CHROMIUM to its path"

# Debian's real binary first: /usr/bin/chromium is a wrapper script that prints noise.
SYSTEM_CANDIDATES = [
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
    os.path.expandvars(r"%LOCALAPPDATA%\Google\Chrome\Application\chrome.exe"),  # Chrome installed per user
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Microsoft\Edge\Application\msedge.exe",
]
PATH_NAMES = ["chromium", "chrome", "msedge"]  # looked up on PATH after the usual places


class NoBrowser(Exception):
    """No Chromium on this machine; the message says how to get one."""


def find_chromium(playwright_own: str | None = None) -> Path:
    """The Chromium executable to launch; ``playwright_own`` is where Playwright keeps its build."""
    chosen = os.environ.get("SMOKE_CHROMIUM")
    if chosen:
        if Path(chosen).is_file():
            return Path(chosen)
        raise NoBrowser(f"SMOKE_CHROMIUM={chosen} does not exist; {INSTALL_HINT}")
    if playwright_own and Path(playwright_own).is_file():
        return Path(playwright_own)
    for candidate in [*SYSTEM_CANDIDATES, *(shutil.which(name) for name in PATH_NAMES)]:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise NoBrowser(INSTALL_HINT)


def playwright_chromium() -> str | None:
    """Where `playwright install` puts its Chromium (it may not have)."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            return playwright.chromium.executable_path
    except Exception:  # playwright missing or its driver broken: fall back to the system's browser
        return None


if __name__ == "__main__":
    try:
        print(find_chromium(playwright_chromium()))
    except NoBrowser as error:
        print(error, file=sys.stderr)
        sys.exit(1)
