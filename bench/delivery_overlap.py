"""Delivery in one process, the record of each email overlapped with the next email's MAIL
command (``deliver_batch``) against recorded right after each email (the same parts, in
sequence): 500 outbox emails, DELIVERY_BATCH a batch, to an aiosmtpd sink in another
process, six interleaved rounds each (ROUNDS=n for more). Emails per second per process,
not a ratio of the issue's goals.

    .venv/bin/python bench/delivery_overlap.py                       # SQLite, a scratch file
    .venv/bin/python bench/delivery_overlap.py postgresql://postgres@127.0.0.1:5432/bench_letters

The PostgreSQL database given is emptied first (schema public dropped).
"""
import os, sys, time, subprocess, tempfile, statistics
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT); sys.path.insert(0, os.path.join(ROOT, "bench"))
from common import free_port
port = free_port()
sink = subprocess.Popen([sys.executable, "-c", f"""
import asyncio, time
from aiosmtpd.controller import Controller
class H:
    async def handle_DATA(self, server, session, envelope): return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port={port}); c.start()
import sys; sys.stdin.read()  # until this script exits
"""], stdin=subprocess.PIPE)
time.sleep(1.5)
tmp = tempfile.mkdtemp()
os.environ.update(DATABASE_URL=sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tmp}/x.sqlite", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(port),
                  CELERY_BROKER_URL="memory://", INSTANCE_PATH=tmp, SECRET_KEY="x"*32)
from campaigns import create_app
from campaigns.core import mail
from campaigns.core.db import db
app = create_app()
def sequential(email_ids):
    """the same claim, then each email sent and recorded before the next is started"""
    from datetime import timedelta
    lease = timedelta(seconds=300); now = mail.utcnow()
    rows = sorted(mail._claim(email_ids, now + lease, now), key=lambda r: r.id); db.session.commit()
    sender = mail._Sender()
    with mail._records_connection() as records:
        for row in rows:
            mail._record(records, mail._attempt(row, sender, sender.start(row, row.message_id)), [])
    sender.close()
with app.app_context():
    from flask_migrate import upgrade
    if "postgresql" in os.environ["DATABASE_URL"]:
        db.session.execute(db.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public")); db.session.commit()
    upgrade()
    results = {"overlapped": [], "sequential": []}
    for round_ in range(int(os.environ.get("ROUNDS", "6"))):
        for name, fn in (("overlapped", mail.deliver_batch), ("sequential", sequential))[:: 1 if round_ % 2 else -1]:
            ids = []
            for n in range(500):
                e = mail.OutgoingEmail(kind="bench", to_address=f"t{n}@example.org", subject="Pay the workers",
                                       text_body="Please pay the workers. " * 20, from_address="A via T <no-reply@t.test>")
                db.session.add(e); ids.append(e)
            db.session.flush(); ids = [e.id for e in ids]; db.session.commit()
            t = time.perf_counter()
            for i in range(0, 500, mail.DELIVERY_BATCH):
                fn(ids[i:i + mail.DELIVERY_BATCH])
            results[name].append(500 / (time.perf_counter() - t))
    for name, v in results.items():
        print(name, "emails/s per process: median %.0f (%s)" % (statistics.median(v), " ".join(f"{x:.0f}" for x in v)))
sink.kill()
