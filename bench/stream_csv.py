"""B4's baseline: a plain script streaming one campaign's signatures to CSV.

    python bench/stream_csv.py DATABASE_URL SLUG [OUT]     (OUT defaults to /dev/null)

No Flask, no ORM: one query, a server-side cursor on PostgreSQL (psycopg named cursor),
plain iteration on SQLite, csv.writer into a buffered file. Prints one JSON line on stdout:
rows, seconds, RSS before the query and peak RSS (KiB) and bytes written. The export endpoint (another
issue) is compared against this in time and in peak memory.
"""
from __future__ import annotations

import csv
import json
import resource
import sqlite3
import sys
import time

QUERY = """
SELECT s.state, s.created_at, s.confirmed_at, p.first_name, p.last_name, p.country,
       s.public, s.comment, s.source
FROM signature AS s JOIN supporter AS p ON p.id = s.supporter_id
JOIN campaign AS c ON c.id = s.campaign_id
WHERE c.slug = {param}
ORDER BY s.id
"""
#: about the export's columns (campaigns/exports/operations.py), so both write as much
HEADER = ["state", "created_at", "confirmed_at", "first_name", "last_name", "country", "public",
          "comment", "source"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """The same spreadsheet-formula guard an export must apply."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def rows_postgresql(url: str, slug: str):
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as connection:
        with connection.cursor(name="bench_export") as cursor:  # server-side
            cursor.itersize = 5000
            cursor.execute(QUERY.format(param="%s"), (slug,))
            yield from cursor


def rows_sqlite(url: str, slug: str):
    path = url.split("sqlite:///", 1)[1]
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = connection.execute(QUERY.format(param="?"), (slug,))
        while batch := cursor.fetchmany(5000):
            yield from batch
    finally:
        connection.close()


def current_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main(argv: list[str]) -> None:
    url, slug = argv[0], argv[1]
    out_path = argv[2] if len(argv) > 2 else "/dev/null"
    if url.startswith("postgres"):
        import psycopg  # noqa: F401  (imported before the baseline is taken)
    rows = rows_postgresql(url, slug) if url.startswith("postgres") else rows_sqlite(url, slug)
    baseline = current_rss_kib()
    started = time.perf_counter()
    count = 0
    with open(out_path, "w", newline="", buffering=1 << 16) as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([cell(v) for v in row])
            count += 1
        written = out.tell() if out_path != "/dev/null" else None
    elapsed = time.perf_counter() - started
    print(json.dumps({"rows": count, "seconds": elapsed, "bytes": written,
                      "baseline_rss_kib": baseline,
                      "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
