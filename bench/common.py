"""Shared plumbing for the benchmark scenarios: scratch databases, servers, load, statistics.

Everything here runs on this machine only (127.0.0.1) and stops by itself.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
#: where the app under test lives: the working tree, or a `git archive` snapshot (--snapshot)
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT", ROOT))
BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
#: with this set, PostgreSQL scratches are schemas in this one existing database (e.g. on
#: a server shared with others who own the other databases) instead of databases of their own
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "")

#: the gunicorn settings of `flask embedded` (campaigns/cli.py), minus the access log,
#: used for the real app and for the bare comparison apps alike
GUNICORN_ARGS = ["--workers", "2", "--threads", "4"]
#: two cores: the servers get core 0, the load generator core 1 (PostgreSQL floats)
SERVER_CPUS = os.environ.get("BENCH_SERVER_CPUS", "0")
LOAD_CPUS = os.environ.get("BENCH_LOAD_CPUS", "1")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def taskset(cpus: str) -> list[str]:
    return ["taskset", "-c", cpus] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- scratch databases ---------------------------------------------------------------

@dataclass
class Scratch:
    """One scratch database (and instance directory) for one server."""

    name: str
    kind: str  # "sqlite" or "postgresql"
    root: Path
    instance: Path = field(init=False)

    def __post_init__(self) -> None:
        self.instance = self.root / self.name
        self.instance.mkdir(parents=True, exist_ok=True)

    @property
    def pg_name(self) -> str:
        return f"threadline_bench_{self.name}"

    @property
    def url(self) -> str:
        if self.kind == "postgresql" and PG_DATABASE:
            # libpq's options: every connection (app, Alembic, seed, scripts) sees only this schema
            return (f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
                    f"?options=-csearch_path%3D{self.pg_name}")
        if self.kind == "postgresql":
            return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.pg_name}"
        return f"sqlite:///{self.instance / 'threadline.sqlite'}"

    @property
    def sqlalchemy_url(self) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)

    def create(self) -> None:
        self.drop()
        self.instance.mkdir(parents=True, exist_ok=True)
        if self.kind == "postgresql" and PG_DATABASE:
            self._psql(f"CREATE SCHEMA {self.pg_name}")
        elif self.kind == "postgresql":
            run(["createdb", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, self.pg_name])

    def _psql(self, sql: str) -> None:
        run(["psql", "-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", PG_DATABASE, "-qAtc", sql])

    def drop(self) -> None:
        if self.kind == "postgresql" and PG_DATABASE:
            try:
                self._psql(f"DROP SCHEMA IF EXISTS {self.pg_name} CASCADE")
            except RuntimeError as exc:
                log(f"could not drop schema {self.pg_name}: {str(exc)[:200]}")
        elif self.kind == "postgresql":
            subprocess.run(["dropdb", "--if-exists", "--force", "-h", PG_HOST, "-p", PG_PORT,
                            "-U", PG_USER, self.pg_name], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.instance, ignore_errors=True)

    def app_env(self, port: int) -> dict[str, str]:
        """The real app's environment: this scratch database, no rate limit, no mail sent."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_URL", "CELERY_", "MAIL_", "RATELIMIT_"))}
        env.update(
            INSTANCE_PATH=str(self.instance),
            PORT=str(port),
            BASE_URL=f"http://127.0.0.1:{port}",
            SECRET_KEY="bench-secret-key-not-for-production",
            RATELIMIT_ENABLED="false",
            # Intake only queues mail (no worker runs), so nothing ever connects here;
            # setting MAIL_SERVER turns the local capture and /dev/mail off.
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT="2525",
            FLASK_APP="wsgi",
            PYTHONUNBUFFERED="1",
        )
        if self.kind == "postgresql":
            env["DATABASE_URL"] = self.url
            env["CELERY_BROKER_URL"] = REDIS_URL
        else:
            env["DATABASE_URL"] = self.url
            env["CELERY_BROKER_URL"] = f"sqla+sqlite:///{self.instance / 'broker.sqlite'}"
        return env


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


#: set in a Redis database the benchmarks flushed: only such a database is flushed again
BENCH_MARK = "threadline:benchmark-database"


class NotOurs(RuntimeError):
    """The Redis database holds someone else's data (a test suite's broker, say)."""


def flush_bench_redis(url: str) -> None:
    """Empty the benchmarks' Redis database, refusing one that holds another's data: a
    test suite using the same database number would lose its queued tasks."""
    import redis

    client = redis.Redis.from_url(url)
    if client.dbsize() and not client.exists(BENCH_MARK):
        raise NotOurs(f"{url} holds data that the benchmarks did not put there; point "
                      "BENCH_REDIS_URL / BENCH_LETTERS_REDIS_URL at a free database")
    client.flushdb()
    client.set(BENCH_MARK, "1")


def flush_redis() -> None:
    try:
        flush_bench_redis(REDIS_URL)
    except NotOurs:
        raise
    except Exception as exc:  # Redis only matters on the PostgreSQL runs
        log(f"could not flush {REDIS_URL}: {exc}")


# --- servers -------------------------------------------------------------------------

class Server:
    """gunicorn with the shared settings, pinned to the server core; stopped by its PID."""

    def __init__(self, name: str, app: str, env: dict[str, str], chdir: Path, log_dir: Path):
        self.name, self.app, self.env, self.chdir = name, app, env, chdir
        self.port = int(env.get("PORT") or free_port())
        self.env["PORT"] = str(self.port)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, health_path: str = "/") -> "Server":
        argv = taskset(SERVER_CPUS) + [str(BIN / "gunicorn"), self.app, "--chdir", str(self.chdir),
                                       "--bind", f"127.0.0.1:{self.port}", *GUNICORN_ARGS,
                                       "--log-level", "warning"]
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(argv, cwd=self.chdir, env=self.env, stdout=self.log_file,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}:\n"
                                   + self.log_path.read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.base + health_path, timeout=5) as response:
                    response.read()
                time.sleep(0.5)
                if self.process.poll() is None:  # ours answered, not another program's
                    return self
            except Exception:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer on {self.base}{health_path}")

    def check(self) -> None:
        """Raise with the server's log when it has died (e.g. a port taken by another program)."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.name} is not running; its log ends:\n"
                               + self.log_path.read_text()[-2000:])

    def worker_pids(self) -> list[int]:
        if not self.process:
            return []
        try:
            out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True,
                                 text=True).stdout
        except FileNotFoundError:
            return []
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            # the process group we created (start_new_session): gunicorn and its workers
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "log_file", None):
            self.log_file.close()


def fetch(url: str, timeout: float = 30) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


# --- load ----------------------------------------------------------------------------

LUA_DIR = BENCH_DIR / "lua"


@dataclass
class Load:
    """What one load run measured."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    return shutil.which("wrk") is not None and os.environ.get("BENCH_NO_WRK") != "1"


def wrk(url: str, script: str | None, seconds: float, connections: int,
        script_args: list[str] | None = None, threads: int = 1) -> Load:
    """Closed-loop load with wrk on the load core; wrk's Lua done() prints a JSON summary."""
    argv = taskset(LOAD_CPUS) + ["wrk", "-t", str(threads), "-c", str(connections),
                                 "-d", f"{max(1, round(seconds))}s", "--timeout", "30s", "--latency",
                                 "-s", str(LUA_DIR / (script or "get.lua")), url]
    if script_args:
        argv += ["--", *script_args]
    out = run(argv).stdout
    line = next(l for l in out.splitlines() if l.startswith("JSON "))
    data = json.loads(line[5:])
    return Load(requests=data["requests"], seconds=data["duration_us"] / 1e6,
                errors=data["errors"], p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
                extra=data)


def pyload(args: list[str]) -> dict:
    """The Python load generator (bench/loadgen.py) on the load core; returns its JSON."""
    argv = taskset(LOAD_CPUS) + [sys.executable, str(BENCH_DIR / "loadgen.py"), *args]
    out = run(argv).stdout
    return json.loads(out.strip().splitlines()[-1])


def closed_loop(url: str, seconds: float, connections: int, mode: str, **kw) -> Load:
    """Saturating load: wrk when present, else the Python generator (weaker: note it)."""
    if have_wrk():
        script = {"get": "get.lua", "sign": "sign.lua", "insert": "insert.lua"}[mode]
        script_args = kw.get("script_args")
        return wrk(url, script, seconds, connections, script_args)
    args = ["closed", "--url", url, "--seconds", str(seconds), "--connections", str(connections),
            "--mode", mode]
    for key, value in kw.get("py_args", {}).items():
        args += [f"--{key}", str(value)]
    data = pyload(args)
    return Load(requests=data["requests"], seconds=data["seconds"], errors=data["errors"],
                p50_ms=data["p50_ms"], p99_ms=data["p99_ms"], extra=data)


# --- statistics and the one line per scenario ------------------------------------------

@dataclass
class Outcome:
    scenario: str
    db: str
    ratios: list[float]
    goal_op: str  # ">=" or "<="
    goal: float
    details: dict = field(default_factory=dict)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool:
        return self.median >= self.goal if self.goal_op == ">=" else self.median <= self.goal

    def line(self, label: str = "ratio") -> str:
        lo, hi = min(self.ratios), max(self.ratios)
        verdict = "MET" if self.met else "MISSED"
        return (f"{self.scenario} {self.db}: {label} {self.median:.2f} (median of {len(self.ratios)}, "
                f"range {lo:.2f}–{hi:.2f}), goal {self.goal_op} {self.goal:g}: {verdict}")


def new_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="bench-", dir="/tmp"))
