"""Letters to targets (issue 4): two ratios, each measured in one run.

    python bench/letters.py                  # L1 and L2 on SQLite with Redis db 13
    python bench/letters.py --only L1 --db postgresql

L1  letters delivered per second through Celery (the release task, then outbox deliveries
    of 100 letters per task, 2 worker processes unless --concurrency says otherwise) to a
    local SMTP sink, divided by a raw smtplib loop sending the same number of messages of
    the same size over one connection
    (goal >= 0.8), run just before and just after each round (from the second round on,
    once the message size is known) and averaged. The clock runs from enqueueing the release
    task (from a warm producer, as a web process's or beat's is) to the last letter
    accepted. Also shown, not the ratio: the rate from the first letter accepted to the last
    (delivery once under way, without the release of the first chunk). The 1,000 letters
    are confirmed before the clock starts, their emails prepared as each supporter's
    confirmation prepares them (rendered then, switched to queued by the release);
    --unprepared measures letters without (the release renders them).
L2  p99 of the act request (POST /c/<slug>/write, send) while the SMTP sink takes 500 ms per
    message, divided by its p99 with a sink answering at once (goal <= 1.1): the request
    only writes rows; mail goes out from the worker after the commit.

Everything runs on 127.0.0.1: an aiosmtpd sink in this process, the app (gunicorn) and a
Celery worker as subprocesses, on a scratch database (SQLite file, or the PostgreSQL
database BENCH_LETTERS_PG_DB, default bench_letters, created if missing and reset first) and Redis db 13.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BIN, ROOT, flush_bench_redis, free_port, log, run  # noqa: E402

REDIS_URL = os.environ.get("BENCH_LETTERS_REDIS_URL", "redis://127.0.0.1:6379/13")
PG_DB = os.environ.get("BENCH_LETTERS_PG_DB", "bench_letters")
SLUG = "bench-letters"
#: the Celery worker's processes (prefork): 2, one per core of the reference machine, unless
#: --concurrency says otherwise (the Procfile's default is 4)
WORKER_PROCESSES = 2


# --- the SMTP sink ------------------------------------------------------------------------

class CountingSink:
    """Counts the letters it accepts; sleeps ``delay`` seconds before each answer to DATA."""

    def __init__(self) -> None:
        self.count = 0
        self.delay = 0.0
        self.last = 0.0
        self.last_wall = self.first_wall = 0.0
        self.size = 0

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.count += 1
        self.last = time.monotonic()
        self.last_wall = time.time()
        if self.count == 1:
            self.first_wall = self.last_wall
        self.size = len(envelope.content or b"")
        return "250 OK"


def start_sink(handler: CountingSink):
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


# --- the app ------------------------------------------------------------------------------

def app_env(kind: str, instance: Path, mail_port: int, web_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "CELERY_", "MAIL_", "RATELIMIT_", "TEST_"))}
    env.update(INSTANCE_PATH=str(instance), PORT=str(web_port), BASE_URL=f"http://127.0.0.1:{web_port}",
               SECRET_KEY="bench-secret-key-not-for-production", RATELIMIT_ENABLED="false",
               SIGN_MIN_SECONDS="0", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mail_port),
               FLASK_APP="wsgi", PYTHONUNBUFFERED="1", CELERY_BROKER_URL=REDIS_URL,
               LETTER_RELEASE_SECONDS="3600", OUTBOX_SWEEP_SECONDS="3600",
               MAIL_KEEP_ALIVE=os.environ.get("BENCH_MAIL_KEEP_ALIVE", "true"))
    if kind == "postgresql":
        env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{instance / 'threadline.sqlite'}"
    return env


def reset(kind: str, env: dict[str, str]) -> None:
    flush_bench_redis(REDIS_URL)
    if kind == "postgresql":
        exists = run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-tAc",
                      f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'"]).stdout.strip()
        if not exists:
            run(["createdb", "-h", "127.0.0.1", "-U", "postgres", PG_DB])
        run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", PG_DB, "-qc",
             "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"])
    run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env)


SEED = r'''
import sys
from sqlalchemy import insert, select
from campaigns import create_app
from campaigns.core.db import db, utcnow
from campaigns.actions.models import ActionTarget, EmailAction, Letter, LetterState
from campaigns.actions.operations import prepare_emails
from campaigns.petitions.models import Campaign, CampaignStatus, CampaignTarget
from campaigns.supporters.models import Supporter
from campaigns.targets.models import Contact, Target, TargetKind
letters, contacts, prepared = int(sys.argv[1]), 20, sys.argv[2:] == ["prepared"]
app = create_app()
with app.app_context():
    target = Target(slug="bench-brand", name="Bench Brand", kind=TargetKind.BRAND, country="DE")
    target.contacts = [Contact(name=f"Director {n}", role="Director", email=f"d{n}@brand.example")
                       for n in range(contacts)]
    campaign = Campaign(slug="bench-letters", title="Pay the workers", summary="Bench.",
                        status=CampaignStatus.LIVE, launched_at=utcnow())
    campaign.targets = [CampaignTarget(target=target, ask="Pay them.")]
    db.session.add(campaign)
    db.session.flush()
    action = EmailAction(campaign_id=campaign.id, active=True, test_mode=False, max_per_hour=100000)
    action.letters.append(ActionTarget(campaign_target_id=campaign.targets[0].id,
                                       subjects=["Pay the workers"], body="Please pay the workers. " * 20,
                                       contact_ids=[c.id for c in target.contacts]))
    db.session.add(action)
    db.session.flush()
    now = utcnow()
    writers = max(letters // contacts, 0)
    if writers:
        db.session.execute(insert(Supporter), [dict(canonical_email=f"w{n}@example.org",
            email=f"w{n}@example.org", first_name="Writer", last_name=str(n), country="FR",
            locale="en", created_at=now, updated_at=now) for n in range(writers)])
        ids = db.session.scalars(select(Supporter.id)).all()
        db.session.execute(insert(Letter), [dict(campaign_id=campaign.id, action_id=action.id,
            action_target_id=action.letters[0].id, supporter_id=s, contact_id=c.id,
            state=LetterState.QUEUED, subject="Pay the workers", body="Please pay the workers. " * 20,
            test=False, created_at=now, confirmed_at=now) for s in ids for c in target.contacts])
        if prepared:  # as each supporter's confirmation does (operations.confirm)
            prepare_emails(action, db.session.scalars(select(Letter.id)).all())
    db.session.commit()
    print(action.id)
'''

RELEASE = r'''
import os, sys, time
from campaigns import create_app
from campaigns.actions.tasks import release_letters
from campaigns.core.celery import enqueue
app = create_app()
with app.app_context():
    # warm, as the web process or beat that enqueues in real life is: the Celery app
    # finalised (its task registry) and a connection to the broker in the producer pool
    celery = app.extensions["celery"]
    celery.tasks[release_letters.name]
    with celery.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=3)
    print(time.time())  # the clock starts here: this script's own start-up is not measured
    assert enqueue(release_letters, int(sys.argv[1]))
# and it stops here, as a web process or beat stays up idle: the interpreter's own teardown
# (measured: 0.4-0.5 s of CPU, a core taken from the round for its first half second) is
# not part of sending letters (the task is on the broker already: publishing waits for it)
sys.stdout.flush()
os._exit(0)
'''


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "wsgi:celery_app", "worker", "--pool", "prefork",
         "--concurrency", str(WORKER_PROCESSES), "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
        start_new_session=True)
    time.sleep(6)  # the worker's start-up, not measured
    if process.poll() is not None:
        raise RuntimeError(f"the worker exited: {log_path.read_text()[-2000:]}")
    return process


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- L1 -----------------------------------------------------------------------------------

def raw_smtplib(port: int, count: int, size: int) -> float:
    """Messages per second over one smtplib connection."""
    text = "x" * max(size - 60, 10)
    body = ("From: a@example.org\r\nTo: b@example.org\r\nSubject: raw\r\n\r\n"
            + "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))).encode()
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(count):
            smtp.sendmail("a@example.org", ["b@example.org"], body)
    return count / (time.monotonic() - started)


def l1(kind: str, letters: int, rounds: int, prepared: bool = True) -> str:
    sink = CountingSink()
    controller, mail_port = start_sink(sink)
    celery_rates, raw_rates, flow_rates = [], [], []
    try:
        for round_ in range(rounds):
            with tempfile.TemporaryDirectory(prefix="bench-letters-") as tmp:
                instance = Path(tmp)
                env = app_env(kind, instance, mail_port, free_port())
                reset(kind, env)
                action_id = run([sys.executable, "-c", SEED, str(letters),
                                 "prepared" if prepared else "unprepared"], cwd=ROOT, env=env).stdout.split()[-1]
                worker = start_worker(env, instance / "worker.log")
                # the raw loop just before and just after the round, averaged: the machine's
                # speed drifts (a shared VM), and one side measured later caught the drift
                raw_before = raw_smtplib(mail_port, letters, sink.size or 1500) if round_ else None
                try:
                    sink.count = 0
                    released = run([sys.executable, "-c", RELEASE, action_id], cwd=ROOT, env=env)
                    enqueued_at = float(released.stdout.split()[-1])  # wall clock, same machine
                    deadline = time.monotonic() + 600
                    while sink.count < letters and time.monotonic() < deadline:
                        time.sleep(0.05)
                    if sink.count < letters:
                        raise RuntimeError(f"only {sink.count} of {letters} letters arrived")
                    rate = letters / (sink.last_wall - enqueued_at)
                    flow = (letters - 1) / (sink.last_wall - sink.first_wall)
                finally:
                    stop(worker)
            raw = raw_smtplib(mail_port, letters, sink.size)
            if raw_before is not None:
                raw = (raw + raw_before) / 2
            celery_rates.append(rate)
            raw_rates.append(raw)
            flow_rates.append(flow)
            log(f"L1 {kind} round {round_ + 1}: celery {rate:.1f} letters/s (first letter after "
                f"{sink.first_wall - enqueued_at:.2f} s, then {flow:.1f}/s), raw smtplib {raw:.1f}/s")
    finally:
        controller.stop()
    # the ratio of each round (its own raw loops), then their median: rates of different
    # rounds are not comparable on a machine whose speed drifts
    ratio = statistics.median(c / r for c, r in zip(celery_rates, raw_rates))
    flow_ratio = statistics.median(f / r for f, r in zip(flow_rates, raw_rates))
    celery, raw = statistics.median(celery_rates), statistics.median(raw_rates)
    return (f"L1 {kind}{'' if prepared else ' (unprepared)'}"
            f"{'' if WORKER_PROCESSES == 2 else f' ({WORKER_PROCESSES} worker processes)'}: {ratio:.3f} (median of {rounds} rounds' ratios, "
            f"{' '.join(f'{c / r:.3f}' for c, r in zip(celery_rates, raw_rates))}; celery median "
            f"{celery:.1f} letters/s incl. release; raw smtplib one connection median {raw:.1f}/s; "
            f"{letters} letters; goal >= 0.8; from the first letter accepted to the last: "
            f"{flow_ratio:.3f} of raw, not the ratio)")


# --- L2 -----------------------------------------------------------------------------------

class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()),
                                                  NoRedirect())

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, data: dict) -> int:
        request = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(data).encode())
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def act_latencies(base: str, count: int, tag: str) -> list[float]:
    latencies = []
    for n in range(count):
        browser = Browser(base)
        html = browser.get(f"/c/{SLUG}/write")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
            re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        letter_fields = dict.fromkeys(re.findall(r'name="(body_\d+)"', html), "Please pay them.")
        subjects = {name: "0" for name in re.findall(r'name="(subject_\d+)"', html)}
        data = {"csrf_token": token.group(1), "first_name": "Ana", "last_name": "Silva",
                "email": f"{tag}{n}@example.org", "country": "PT", "send": "Send",
                **letter_fields, **subjects}
        started = time.perf_counter()
        status = browser.post(f"/c/{SLUG}/write", data)
        latencies.append(time.perf_counter() - started)
        if status != 303:
            raise RuntimeError(f"the act request answered {status}")
    return latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def l2(kind: str, requests: int, pairs: int) -> str:
    sink = CountingSink()
    controller, mail_port = start_sink(sink)
    server = worker = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-letters-") as tmp:
            instance = Path(tmp)
            web_port = free_port()
            env = app_env(kind, instance, mail_port, web_port)
            reset(kind, env)
            run([sys.executable, "-c", SEED, "0"], cwd=ROOT, env=env)
            worker = start_worker(env, instance / "worker.log")
            server = subprocess.Popen(
                [str(BIN / "gunicorn"), "wsgi:app", "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
                 "--threads", "4", "--log-level", "warning"], cwd=ROOT, env=env,
                stdout=open(instance / "web.log", "ab"), stderr=subprocess.STDOUT, start_new_session=True)
            base = f"http://127.0.0.1:{web_port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=3).read()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise RuntimeError((instance / "web.log").read_text()[-2000:])
                    time.sleep(0.3)
            acts = 20
            act_latencies(base, acts, "warm")  # warm-up, not measured
            slow, fast = [], []
            for pair in range(pairs):  # alternate: fast slow, slow fast, ...
                for delay in ((0.0, 0.5) if pair % 2 == 0 else (0.5, 0.0)):
                    # each phase starts with the outbox drained (one confirmation email per act),
                    # so that one phase's mail is not sent during the other's measurement
                    drained_by = time.monotonic() + 180
                    while sink.count < acts and time.monotonic() < drained_by:
                        time.sleep(0.2)
                    sink.delay = delay
                    measured = act_latencies(base, requests, f"p{pair}d{int(delay * 10)}n")
                    acts += requests
                    (slow if delay else fast).extend(measured)
                    log(f"L2 {kind} pair {pair + 1} sink {delay * 1000:.0f} ms: p99 {p99(measured) * 1000:.1f} ms, "
                        f"mail accepted so far {sink.count}")
            sink.delay = 0.0
            return (f"L2 {kind}: {p99(slow) / p99(fast):.3f} (act p99 {p99(slow) * 1000:.1f} ms with a "
                    f"500 ms SMTP sink / {p99(fast) * 1000:.1f} ms with a normal one; {len(slow)} requests "
                    f"each, {pairs} alternating pairs; goal <= 1.1)")
    finally:
        stop(server)
        stop(worker)
        controller.stop()


def machine_line() -> str:
    from importlib.metadata import version
    import platform

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    return (f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {cpu}, nproc {os.cpu_count()}, "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; Python {platform.python_version()}, "
            f"Celery {version('celery')}, aiosmtpd {version('aiosmtpd')}, SQLAlchemy {version('sqlalchemy')}, "
            f"SQLite {__import__('sqlite3').sqlite_version}")


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--only", default="L1,L2")
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--unprepared", action="store_true",
                        help="L1 with letters whose emails were not prepared at confirmation "
                             "(confirmed before prepared emails existed): the release renders them")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="the Celery worker's processes (default 2: one per core here)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args(argv)
    global WORKER_PROCESSES
    WORKER_PROCESSES = args.concurrency
    selected = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    lines = [machine_line()]
    print(lines[0], flush=True)
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        for name, scenario in (("L1", lambda: l1(kind, args.letters, args.rounds, not args.unprepared)),
                               ("L2", lambda: l2(kind, args.requests, args.pairs))):
            if name not in selected:
                continue
            try:
                line = scenario()
            except Exception as exc:  # one broken scenario must not hide the other
                line = f"{name} {kind}: ERROR {type(exc).__name__}: {str(exc)[:300]}"
            lines.append(line)
            print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
