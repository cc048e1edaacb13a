"""Fill a scratch database for the benchmarks. Run with the app's environment (DATABASE_URL ...).

    python bench/seed.py campaigns 1000          # targets + bench-1 .. bench-1000, live
    python bench/seed.py signatures bench-1 N    # N confirmed/pending signatures (and supporters)
    python bench/seed.py campaigner              # a campaigner; prints a session cookie (B4)

Campaigns go through the models' tables (so their defaults apply); the bulk signatures
are generated inside the database: generate_series on PostgreSQL, a recursive CTE in big
transactions on SQLite. Rows look like real ones: 90 % confirmed, half of them public,
timestamps one second apart ending now.
"""
from __future__ import annotations

import sys
import time
from datetime import timedelta

from sqlalchemy import func, insert, select, text

sys.path.insert(0, __import__("os").getcwd())  # the app under test (run with cwd = its root)

from campaigns import create_app  # noqa: E402
from campaigns.core.db import db, utcnow  # noqa: E402
from campaigns.petitions.models import Campaign, CampaignStatus, CampaignTarget  # noqa: E402
from campaigns.signatures.models import Signature, SignatureState  # noqa: E402
from campaigns.targets.models import Target, TargetKind  # noqa: E402

STORY = """On the night of 14 March the gates of the Riverside factory stayed shut. The
owner, **Crescent Textiles**, had moved the machines out over the weekend. The
1,260 workers who sewed sportswear for **Northwind Athletics** and clothes for
**Marlow & Finch** were owed three months' wages.

The workers' union asked the network to launch this appeal after talks with the
owner broke down. Together they calculated what is owed:

- unpaid wages for January to March;
- severance at the legal rate of one month's wage per year of service;
- the annual bonus due in April.

The brands that sourced from Riverside profited from these workers' labour. They can
close the gap now and recover it from their supplier later. Read the [full report](https://example.org/report).
"""
TARGETS = [
    ("bench-brand", "Northwind Athletics (bench)", TargetKind.BRAND,
     "Pay the shortfall in wages and severance into the fund the union has set up, within 30 days."),
    ("bench-retailer", "Marlow & Finch (bench)", TargetKind.RETAILER,
     "Contribute your share of the shortfall in proportion to your orders from Riverside."),
    ("bench-manufacturer", "Crescent Textiles (bench)", TargetKind.MANUFACTURER,
     "Disclose the factory's accounts and pay what the law requires."),
]


def seed_campaigns(count: int) -> None:
    now = utcnow()
    target_ids = []
    for slug, name, kind, _ask in TARGETS:
        target = Target(slug=slug, name=name, kind=kind, description="A fictional target.")
        db.session.add(target)
        db.session.flush()
        target_ids.append(target.id)
    rows = [dict(slug=f"bench-{i}", title=f"Pay the Riverside workers what they are owed ({i})",
                 summary="The Riverside factory closed overnight in March. Its workers are still "
                         "waiting for three months' wages and their legal severance.",
                 story=STORY, goal=10000, status=CampaignStatus.LIVE, image_alt="",
                 launched_at=now - timedelta(days=i % 30))
            for i in range(1, count + 1)]
    for start in range(0, len(rows), 500):
        db.session.execute(insert(Campaign.__table__), rows[start:start + 500])
    ids = db.session.execute(select(Campaign.id).where(Campaign.slug.like("bench-%"))).scalars().all()
    links = [dict(campaign_id=cid, target_id=tid, ask=TARGETS[pos][3], position=pos)
             for cid in ids for pos, tid in enumerate(target_ids)]
    for start in range(0, len(links), 1000):
        db.session.execute(insert(CampaignTarget.__table__), links[start:start + 1000])
    db.session.commit()
    print(f"seeded {count} campaigns", file=sys.stderr)


PG_SUPPORTERS = """
INSERT INTO supporter (id, canonical_email, email, first_name, last_name, country, postcode,
                       locale, created_at, updated_at)
SELECT :base + g, 'b-' || (:base + g) || '@bench.example', 'b-' || (:base + g) || '@bench.example',
       'Signer' || (g % 1000), 'Bench', (ARRAY['DE','FR','BD','KH','GB','NL'])[1 + g % 6],
       NULL, 'en', now(), now()
FROM generate_series(1, :n) AS g
"""
PG_SIGNATURES = """
INSERT INTO signature (id, campaign_id, supporter_id, state, public, comment, source,
                       created_at, confirmed_at, last_emailed_at)
SELECT :sbase + g, :cid, :base + g,
       CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'confirmed' END, g % 2 = 0, NULL, 'bench',
       ts, CASE WHEN g % 10 = 0 THEN NULL ELSE ts + interval '1 hour' END, ts
FROM (SELECT g, now() - interval '1 hour' - make_interval(secs => (:n - g)) AS ts
      FROM generate_series(1, :n) AS g) AS s
"""
# SQLite: SQLAlchemy stores DateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC, zone dropped).
SQLITE_TS = "strftime('%Y-%m-%d %H:%M:%S', 'now', '-1 hour', '-' || (:hi - g) || ' seconds') || '.000000'"
SQLITE_SUPPORTERS = f"""
WITH RECURSIVE s(g) AS (SELECT :lo UNION ALL SELECT g + 1 FROM s WHERE g < :hi)
INSERT INTO supporter (id, canonical_email, email, first_name, last_name, country, postcode,
                       locale, created_at, updated_at)
SELECT :base + g, 'b-' || (:base + g) || '@bench.example', 'b-' || (:base + g) || '@bench.example',
       'Signer' || (g % 1000), 'Bench', substr('DEFRBDKHGBNL', 1 + 2 * (g % 6), 2),
       NULL, 'en', {SQLITE_TS}, {SQLITE_TS}
FROM s
"""
SQLITE_SIGNATURES = f"""
WITH RECURSIVE s(g) AS (SELECT :lo UNION ALL SELECT g + 1 FROM s WHERE g < :hi)
INSERT INTO signature (id, campaign_id, supporter_id, state, public, comment, source,
                       created_at, confirmed_at, last_emailed_at)
SELECT :sbase + g, :cid, :base + g,
       CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'confirmed' END, g % 2 = 0, NULL, 'bench',
       {SQLITE_TS},
       CASE WHEN g % 10 = 0 THEN NULL ELSE
         strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (:hi - g) || ' seconds') || '.000000' END,
       {SQLITE_TS}
FROM s
"""


def seed_signatures(slug: str, n: int) -> None:
    started = time.monotonic()
    cid = db.session.scalar(select(Campaign.id).where(Campaign.slug == slug))
    base = db.session.scalar(text("SELECT coalesce(max(id), 0) FROM supporter"))
    sbase = db.session.scalar(text("SELECT coalesce(max(id), 0) FROM signature"))
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))  # skip FK triggers
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
        db.session.execute(text(PG_SUPPORTERS), dict(base=base, n=n))
        db.session.execute(text(PG_SIGNATURES), dict(base=base, sbase=sbase, cid=cid, n=n))
        for table in ("supporter", "signature"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
        db.session.commit()
        db.session.execute(text("ANALYZE supporter"))
        db.session.execute(text("ANALYZE signature"))
    else:
        connection = db.session.connection()
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
        chunk = 500_000
        for lo in range(1, n + 1, chunk):
            hi = min(n, lo + chunk - 1)
            db.session.execute(text(SQLITE_SUPPORTERS), dict(lo=lo, hi=hi, base=base))
            # timestamps are relative to the last row of the whole load, not of the chunk
            db.session.execute(text(SQLITE_SIGNATURES.replace(":hi - g", ":n - g")),
                               dict(lo=lo, hi=hi, n=n, base=base, sbase=sbase, cid=cid))
            db.session.commit()
            connection = db.session.connection()
        db.session.commit()
        db.session.connection().exec_driver_sql("ANALYZE")
        # the sqlite_sequence row keeps AUTOINCREMENT ids growing past what we inserted
        db.session.commit()
    confirmed = db.session.scalar(
        select(func.count()).select_from(Signature)
        .where(Signature.campaign_id == cid, Signature.state == SignatureState.CONFIRMED))
    db.session.execute(Campaign.__table__.update().where(Campaign.id == cid)
                       .values(signature_count=confirmed))
    db.session.commit()
    print(f"seeded {n} signatures on {slug} in {time.monotonic() - started:.0f} s", file=sys.stderr)


def campaigner_cookie(app) -> None:
    """A campaigner (no organisation: manages every campaign) and a signed session cookie
    for them, printed as NAME=VALUE: what B4 needs to download the export."""
    from campaigns.accounts.models import Campaigner
    from campaigns.accounts.policy import Role

    campaigner = Campaigner(email="bench-campaigner@bench.example", name="Bench",
                            password_hash="!unusable", role=Role.CAMPAIGNER)
    db.session.add(campaigner)
    db.session.commit()
    serializer = app.session_interface.get_signing_serializer(app)
    cookie = serializer.dumps({"_user_id": campaigner.get_id(), "_fresh": True})
    print(f"{app.config['SESSION_COOKIE_NAME']}={cookie}")


def main(argv: list[str]) -> None:
    app = create_app()
    with app.app_context():
        if argv[0] == "campaigner":
            campaigner_cookie(app)
        elif argv[0] == "campaigns":
            seed_campaigns(int(argv[1]))
        elif argv[0] == "signatures":
            seed_signatures(argv[1], int(argv[2]))
        else:
            raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
