"""Browser tests: the whole platform started as `make run` starts it, driven by Chromium.

The ``platform`` fixture runs ``flask db upgrade``, ``flask seed-demo --if-empty`` and
``flask embedded`` (gunicorn, a Celery worker with beat, the local mail capture) in a
fresh instance directory on free ports. Playwright drives Debian's Chromium (CI installs
it with ``apt-get install chromium``; ``playwright install`` is not needed). Every request
a page makes is recorded, and a test fails if one leaves this machine: the platform
promises no third-party loads.

What the tests leave behind is under ``test-results/browser/`` at the repository root:
the platform's output (``platform.log``), screenshots, and on failure a screenshot and
the HTML of each open page.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.helpers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO_ROOT / "test-results" / "browser"
BIN_DIR = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: schemes whose requests never touch the network
LOCAL_SCHEMES = {"data", "blob", "about"}
STARTUP_TIMEOUT = 60.0
#: the platform's INBOUND_MAIL_SECRET (the replies test posts a reply to /inbound/mail)
INBOUND_MAIL_SECRET = "browser-inbound-secret"
STOP_TIMEOUT = 30.0
#: settings that could point the platform at something outside its instance directory
NOT_INHERITED = (
    "DATABASE_URL", "CELERY_BROKER_URL", "MAIL_SERVER", "MAIL_CAPTURE_DIR", "MAIL_USERNAME",
    "MAIL_PASSWORD", "MAIL_USE_TLS", "MAIL_USE_SSL", "RATELIMIT_STORAGE_URI", "SECRET_KEY",
    "SESSION_COOKIE_SECURE", "TRUSTED_PROXY_HOPS", "FLASK_APP", "FLASK_DEBUG",
)


# --- The shared test suite's per-test database reset is not needed here --------------------

@pytest.fixture(autouse=True)
def app_context():
    """Override tests/conftest.py: these tests talk to the platform over HTTP only."""
    yield


# --- Reporting: outcomes for fixtures, the third-party request guard -----------------------

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test itself (not its teardown) when a page loaded anything from elsewhere."""
    result = yield
    guard = getattr(item, "request_guard", None)
    if guard is not None:
        guard.check()
    return result


@dataclass
class RequestGuard:
    """Every request the test's pages made; only this machine may be asked for anything."""

    requests: list[str] = field(default_factory=list)

    def record(self, request) -> None:
        self.requests.append(request.url)

    def outside(self) -> list[str]:
        found = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in LOCAL_SCHEMES:
                continue
            if parts.hostname not in LOCAL_HOSTS:
                found.append(url)
        return found

    def check(self) -> None:
        outside = self.outside()
        assert not outside, (
            "the pages requested something from another host (the platform promises no "
            "third-party loads):\n  " + "\n  ".join(outside)
        )


# --- Chromium ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's Chromium; missing means a broken CI image, so fail rather than skip."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. The browser tests drive Debian's Chromium: "
            "install it with `apt-get install chromium` (or set CHROMIUM_PATH). "
            "The platform was not started.",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="session")
def results_dir() -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    return RESULTS_DIR


# --- The platform --------------------------------------------------------------------------

@dataclass
class Platform:
    base_url: str
    instance_dir: Path
    log_path: Path
    process: subprocess.Popen

    def url(self, path: str = "/") -> str:
        return self.base_url + path


def _log_tail(path: Path, lines: int = 80) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _run_step(argv: list[str], env: dict, log) -> None:
    log.write(f"\n$ {' '.join(argv)}\n")
    log.flush()
    completed = subprocess.run(argv, cwd=REPO_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, timeout=120)
    if completed.returncode != 0:
        log.flush()
        raise RuntimeError(f"{' '.join(argv)} exited with {completed.returncode}")


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in parents.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_healthy(process: subprocess.Popen, base_url: str) -> bool:
    """True once /healthz answers 200; False if the process stopped or time ran out."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(base_url + "/healthz", timeout=3).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.25)
    return False


def _stop(process: subprocess.Popen) -> list[int]:
    """SIGTERM the supervisor and wait; return the pids of descendants left running."""
    children = _descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in children if _alive(pid)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


@pytest.fixture(scope="session")
def platform(chromium_executable, results_dir, tmp_path_factory):
    """The whole platform, as `make run` starts it, in a fresh instance directory."""
    instance_dir = tmp_path_factory.mktemp("instance")
    log_path = results_dir / "platform.log"
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    # Playwright fills the sign form faster than a person could: turn that bot trap off.
    env.update(INSTANCE_PATH=str(instance_dir), PYTHONUNBUFFERED="1", SIGN_MIN_SECONDS="0")
    # Replies: the inbound mail endpoint on, and deadlines checked every few seconds.
    env.update(INBOUND_MAIL_SECRET=INBOUND_MAIL_SECRET, REPLY_CHECK_SECONDS="3")
    flask = [str(BIN_DIR / "flask"), "--app", "wsgi"]

    log_path.write_text("")
    # append mode: the subprocesses write to the same file
    with open(log_path, "a", buffering=1) as log:
        process = None
        # A free port can be taken by someone else before the platform binds it: try again.
        for attempt in range(3):
            port, mail_port = free_port(), free_port()
            base_url = f"http://127.0.0.1:{port}"
            env.update(PORT=str(port), MAIL_PORT=str(mail_port), BASE_URL=base_url)
            log.write(f"\n=== attempt {attempt + 1}: web on {port}, mail on {mail_port}, "
                      f"instance {instance_dir}\n")
            try:
                _run_step(flask + ["db", "upgrade"], env, log)
                _run_step(flask + ["seed-demo", "--if-empty"], env, log)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                pytest.fail(f"{error}; output in {log_path}:\n{_log_tail(log_path)}",
                            pytrace=False)
            log.write(f"\n$ {' '.join(flask)} embedded\n")
            process = subprocess.Popen(flask + ["embedded"], cwd=REPO_ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            if _wait_healthy(process, base_url):
                break
            exited = process.poll() is not None
            _stop(process)
            if not exited:  # running but never healthy: a new port will not help
                pytest.fail(f"the platform did not answer 200 on {base_url}/healthz within "
                            f"{STARTUP_TIMEOUT:.0f}s; output in {log_path}:\n"
                            f"{_log_tail(log_path)}", pytrace=False)
        else:
            pytest.fail(f"the platform stopped before it answered on /healthz, three times; "
                        f"output in {log_path}:\n{_log_tail(log_path)}", pytrace=False)

        try:
            yield Platform(base_url=base_url, instance_dir=instance_dir, log_path=log_path,
                           process=process)
        finally:
            left = _stop(process)
            log.write(f"\n=== stopped (exit code {process.returncode})\n")
            if left:
                log.write(f"=== had to SIGKILL processes left running: {left}\n")
    assert not left, f"`flask embedded` left processes running after SIGTERM: {left}"


# --- Playwright ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance, chromium_executable):
    browser = playwright_instance.chromium.launch(executable_path=chromium_executable,
                                                  args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def request_guard(request) -> RequestGuard:
    guard = RequestGuard()
    request.node.request_guard = guard
    return guard


@pytest.fixture
def new_context(browser, platform, request_guard, request, results_dir):
    """Make browser contexts whose every request is recorded; closed after the test.

    On failure, each open page is saved (screenshot and HTML) under test-results/browser/.
    """
    from playwright.sync_api import Error as PlaywrightError

    contexts = []

    def make(**options):
        context = browser.new_context(base_url=platform.base_url, **options)
        context.set_default_timeout(15_000)
        context.on("request", request_guard.record)
        contexts.append(context)
        return context

    yield make

    report = getattr(request.node, "report_call", None)
    failed = report is None or report.failed
    for c, context in enumerate(contexts):
        if failed:
            for p, page in enumerate(context.pages):
                stem = results_dir / f"FAILED-{request.node.name}-{c}-{p}"
                try:
                    page.screenshot(path=f"{stem}.png", full_page=True)
                    Path(f"{stem}.html").write_text(page.content())
                except PlaywrightError:
                    pass
        context.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()

