"""Real processes to break: a Redis server of our own and Celery workers as subprocesses."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import sys
from pathlib import Path

import pytest

from campaigns.cli import _die_with_parent  # a killed test run leaves no process behind
from tests.helpers import free_port, wait_until

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


class RedisServer:
    """A throwaway redis-server we may kill and restart on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(lambda: _pings(client), timeout=10, message="redis-server to answer")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def own_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the failure tests (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


class WorkerProcess:
    """`celery worker --beat` in its own process group, as production runs it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        schedule = self.log.with_suffix(".schedule")
        self.process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "wsgi:celery_app", "worker", "--beat", "--schedule",
             str(schedule), "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO"],
            cwd=ROOT, env=self.env, start_new_session=True, preexec_fn=_die_with_parent,
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_until(lambda: "ready." in self.log.read_text() or self.process.poll() is not None,
                   timeout=180, message="the Celery worker to start")
        assert self.process.poll() is None, self.log.read_text()[-3000:]

    def restart_if_exited(self) -> bool:
        """What a process manager (systemd's Restart=always, a platform's dyno manager) does.

        kombu's Redis transport can exit the worker with "Unrecoverable error" when the
        broker vanishes while a message is being acknowledged; the outbox makes the restart
        lose nothing.
        """
        if self.process.poll() is None:
            return False
        self.start()
        return True

    def kill_hard(self) -> None:
        """kill -9 the whole worker (main process and pool children), mid-work."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.fixture
def worker_process(app, tmp_path):
    """Start workers for a broker, sharing the suite's database and mail settings."""
    started: list[WorkerProcess] = []

    def start(broker_url: str, **settings: str) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEST_", "PYTEST"))}
        env.update(
            INSTANCE_PATH=str(tmp_path), DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            CELERY_BROKER_URL=broker_url, MAIL_SERVER="127.0.0.1", BASE_URL="http://threadline.test",
            SECRET_KEY=app.config["SECRET_KEY"], PYTHONUNBUFFERED="1", BROKER_POLLING_INTERVAL="0.1",
            **settings,
        )
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log")
        worker.start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        for worker in started:  # shown by pytest when the test failed
            print(f"--- {worker.log.name} ---\n{worker.log.read_text()[-4000:]}")


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None) \
    if Path("/usr/lib/postgresql").exists() else None


class PostgresServer:
    """A PostgreSQL cluster of our own, to stop and start under a running app."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(prefix + list(argv), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory}"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
                          "-l", str(self.directory / "log"), "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a crash or a failover does."""
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")


@pytest.fixture
def own_postgres(tmp_path_factory):
    if PG_BIN is None:
        pytest.fail("PostgreSQL's server binaries are needed (apt-get install postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="threadline-pg-"))
    server = PostgresServer(directory)
    server.init()
    server.start()
    yield server
    try:
        server.crash()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(directory, ignore_errors=True)
