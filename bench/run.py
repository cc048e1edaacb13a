"""Threadline benchmarks (issue 7): each scenario prints one line with a ratio measured in one run.

    python bench/run.py                      # every scenario, SQLite then PostgreSQL
    python bench/run.py --only B1,B5 --db postgresql
    python bench/run.py --only B1 --profile  # also py-spy the real app under that load

Every figure is a ratio of two measurements taken in the same run, alternating A and B
(A B, then B A, ...) so that drift from other work on the machine hits both sides alike.
The real app (`gunicorn wsgi:app`) and the bare comparison app (bench/bare_app.py) run
with the same gunicorn settings, each on its own scratch database, pinned to core 0; the
load generator runs on core 1. Exit status is 0 whether goals are met or not: this is a
measurement, not a test. Details go to stderr and to bench/results/latest.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import (BENCH_DIR, BIN, ROOT, Outcome, Scratch, Server, closed_loop, fetch,  # noqa: E402
                    flush_redis, free_port, have_wrk, log, new_root, pyload, run, taskset,
                    LOAD_CPUS)

ALL = ["B1", "B2", "B3", "B4", "B5", "B6"]
PAGE = "/c/bench-1"
SIGN = "/api/v1/campaigns/bench-1/signatures"


class Bench:
    def __init__(self, args: argparse.Namespace, kind: str):
        self.args, self.kind = args, kind
        self.root = new_root()
        self.servers: list[Server] = []
        self.scratches: list[Scratch] = []
        self.outcomes: list[Outcome] = []
        self.lines: list[str] = []
        self.cache: dict = {}

    # --- set-up ------------------------------------------------------------------------

    def scratch(self, name: str) -> Scratch:
        scratch = Scratch(name, self.kind, self.root)
        scratch.create()
        self.scratches.append(scratch)
        return scratch

    def app_env(self, scratch: Scratch) -> dict[str, str]:
        return scratch.app_env(free_port())

    def migrate_and_seed(self, scratch: Scratch, campaigns: int) -> dict[str, str]:
        env = self.app_env(scratch)
        try:
            run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=common.APP_ROOT, env=env)
        except RuntimeError as exc:
            if "Multiple head revisions" not in str(exc):
                raise
            # the app's migration graph has two heads (a merge without a merge revision):
            # say so loudly, and measure anyway with every head applied
            log(f"{self.kind}: WARNING: `flask db upgrade` fails: several Alembic heads; "
                "using `flask db upgrade heads` (fix: `flask db merge heads`)")
            run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade", "heads"],
                cwd=common.APP_ROOT, env=env)
        run([sys.executable, str(BENCH_DIR / "seed.py"), "campaigns", str(campaigns)], cwd=common.APP_ROOT, env=env)
        return env

    def serve(self, server: Server, health: str) -> Server:
        self.servers.append(server)
        return server.start(health)

    def main_servers(self) -> tuple[Server, Server]:
        """The real app on 1,000 live campaigns and the bare app, both warmed up."""
        if "main" in self.cache:
            for server in self.cache["main"]:
                server.check()
            return self.cache["main"]
        try:
            return self._main_servers()
        except Exception as exc:  # e.g. a free port taken meanwhile by another program: once more
            log(f"{self.kind}: starting the servers failed ({str(exc)[:200]}); trying again")
            for server in self.servers:
                server.stop()
            self.servers.clear()
            return self._main_servers()

    def _main_servers(self) -> tuple[Server, Server]:
        log(f"{self.kind}: migrating and seeding the real app's database")
        real_db = self.scratch("real")
        env = self.migrate_and_seed(real_db, 1000)
        real = self.serve(Server(f"real-{self.kind}", "wsgi:app", env, common.APP_ROOT, self.root), PAGE)
        page_bytes = len(fetch(real.base + PAGE))
        bare_db = self.scratch("bare")
        bare_env = {**os.environ, "DATABASE_URL": bare_db.url, "BARE_PAGE_BYTES": str(page_bytes),
                    "PORT": str(free_port())}
        bare_env.pop("FLASK_APP", None)
        run([sys.executable, "-c", "import bare_app"], cwd=BENCH_DIR, env=bare_env)  # the schema
        bare = self.serve(Server(f"bare-{self.kind}", "bare_app:app", bare_env, BENCH_DIR, self.root),
                          "/healthz")
        bare_bytes = len(fetch(bare.base + "/page"))
        self.cache["page_bytes"] = (page_bytes, bare_bytes)
        log(f"{self.kind}: campaign page {page_bytes} bytes, bare page {bare_bytes} bytes")
        for server, page, mode, script_args in ((real, PAGE, "get", None), (bare, "/page", "get", None),
                                                (real, "", "sign", [uuid.uuid4().hex[:8], "1"]),
                                                (bare, "", "insert", [uuid.uuid4().hex[:8]])):
            closed_loop(server.base + page, 2, 8, mode, script_args=script_args)  # warm-up
        self.cache["main"] = (real, bare)
        return real, bare

    # --- measurement helpers ------------------------------------------------------------

    def pairs(self, measure_a, measure_b, limit: int | None = None) -> list[tuple]:
        """Alternate A and B (ABBA ...) and return [(a, b), ...]."""
        results = []
        for i in range(min(self.args.pairs, limit or self.args.pairs)):
            if i % 2 == 0:
                a = measure_a()
                b = measure_b()
            else:
                b = measure_b()
                a = measure_a()
            results.append((a, b))
        return results

    def sign_load(self, server: Server, campaigns: int = 1):
        return closed_loop(server.base, self.args.seconds, self.args.connections, "sign",
                           script_args=[uuid.uuid4().hex[:8], str(campaigns)],
                           py_args={"url": server.base + SIGN})

    def insert_load(self, server: Server):
        return closed_loop(server.base + "/insert", self.args.seconds, self.args.connections,
                           "insert", script_args=[uuid.uuid4().hex[:8]])

    def get_load(self, url: str):
        return closed_loop(url, self.args.seconds, self.args.connections, "get")

    def record(self, outcome: Outcome, label: str = "ratio") -> None:
        line = outcome.line(label)
        self.outcomes.append(outcome)
        self.lines.append(line)
        print(line, flush=True)
        for key, value in outcome.details.items():
            log(f"  {outcome.scenario} {self.kind} {key}: {value}")

    def skip(self, scenario: str, why: str) -> None:
        line = f"{scenario} {self.kind}: SKIPPED, {why}"
        self.lines.append(line)
        print(line, flush=True)

    @staticmethod
    def errors_note(loads) -> str:
        bad = [(l.errors, l.requests) for l in loads if l.errors > 0.01 * max(1, l.requests)]
        return f"; WARNING: {len(bad)} runs had >1% errors {bad[:3]}" if bad else ""

    # --- scenarios -----------------------------------------------------------------------

    def b1(self) -> None:
        real, bare = self.main_servers()
        results = self.pairs(lambda: self.sign_load(real), lambda: self.insert_load(bare))
        ratios = [a.rps / b.rps for a, b in results]
        real_rps = statistics.median(a.rps for a, _ in results)
        bare_rps = statistics.median(b.rps for _, b in results)
        self.record(Outcome("B1", self.kind, ratios, ">=", 0.5, details={
            "signatures/s (real endpoint, median)": f"{real_rps:.0f}",
            "inserts/s (bare endpoint, median)": f"{bare_rps:.0f}",
            "real p50/p99 ms": f"{statistics.median(a.p50_ms for a, _ in results):.1f}/"
                               f"{statistics.median(a.p99_ms for a, _ in results):.1f}",
            "errors": self.errors_note([x for pair in results for x in pair]) or "none",
        }))
        self.cache["sign_rps"] = real_rps

    def b2(self) -> None:
        real, _ = self.main_servers()
        results = self.pairs(lambda: self.sign_load(real, 1), lambda: self.sign_load(real, 1000))
        ratios = [a.rps / b.rps for a, b in results]
        self.record(Outcome("B2", self.kind, ratios, ">=", 0.9, details={
            "signatures/s one campaign (median)": f"{statistics.median(a.rps for a, _ in results):.0f}",
            "signatures/s 1,000 campaigns (median)": f"{statistics.median(b.rps for _, b in results):.0f}",
            "errors": self.errors_note([x for pair in results for x in pair]) or "none",
        }))

    def b3(self) -> None:
        real, bare = self.main_servers()
        page_rps = self.cache.get("page_rps") or self.get_load(real.base + PAGE).rps
        sign_rps = self.cache.get("sign_rps") or self.sign_load(real).rps
        # open loop at fixed rates, the same on both apps: about 35 % of the real app's page
        # capacity for readers, and signers at --b3-signers (default: issue 7's reference,
        # "Revoke Article 50" at about 2,000 signatures a minute); with --b3-signers 0,
        # 25 % of the measured intake capacity (the rule before 2026-11-25, which made B3
        # harder the cheaper intake got)
        read_rate = max(5.0, round(0.35 * page_rps, 1))
        write_rate = self.args.b3_signers or max(2.0, round(0.25 * sign_rps, 1))
        seconds = self.args.b3_seconds

        def mix(server: Server, page: str, write: str):
            return pyload(["open", "--read-url", server.base + page, "--read-rate", str(read_rate),
                           "--write-url", server.base + write, "--write-rate", str(write_rate),
                           "--seconds", str(seconds)])

        results = self.pairs(lambda: mix(real, PAGE, SIGN), lambda: mix(bare, "/page", "/insert"))
        ratios = [a["read"]["p99_ms"] / b["read"]["p99_ms"] for a, b in results]
        # what the signers add: the same readers alone, once (context for the report)
        alone = pyload(["open", "--read-url", real.base + PAGE, "--read-rate", str(read_rate),
                        "--seconds", str(seconds)])["read"]
        errors = sum(a["read"]["errors"] + a["write"]["errors"] for a, _ in results)
        self.record(Outcome("B3", self.kind, ratios, "<=", 2, details={
            "rates": f"readers {read_rate}/s + signers {write_rate}/s for {seconds}s per run "
                     f"(capacity: page {page_rps:.0f}/s, intake {sign_rps:.0f}/s)",
            "campaign page p50/p99 ms (median)":
                f"{statistics.median(a['read']['p50_ms'] for a, _ in results):.1f}/"
                f"{statistics.median(a['read']['p99_ms'] for a, _ in results):.1f}",
            "bare page p50/p99 ms (median)":
                f"{statistics.median(b['read']['p50_ms'] for _, b in results):.1f}/"
                f"{statistics.median(b['read']['p99_ms'] for _, b in results):.1f}",
            "campaign page p50/p99 ms with readers only (one run)":
                f"{alone['p50_ms']:.1f}/{alone['p99_ms']:.1f}",
            "signer p99 ms real/bare": f"{statistics.median(a['write']['p99_ms'] for a, _ in results):.1f}/"
                                       f"{statistics.median(b['write']['p99_ms'] for _, b in results):.1f}",
            "real app errors": errors,
        }))

    def b6(self) -> None:
        real, bare = self.main_servers()
        results = self.pairs(lambda: self.get_load(real.base + PAGE),
                             lambda: self.get_load(bare.base + "/page"))
        ratios = [a.rps / b.rps for a, b in results]
        self.cache["page_rps"] = statistics.median(a.rps for a, _ in results)
        page_bytes, bare_bytes = self.cache["page_bytes"]
        self.record(Outcome("B6", self.kind, ratios, ">=", 0.3, details={
            "campaign page req/s (median)": f"{self.cache['page_rps']:.0f} ({page_bytes} bytes)",
            "bare page req/s (median)": f"{statistics.median(b.rps for _, b in results):.0f} ({bare_bytes} bytes)",
            "errors": self.errors_note([x for pair in results for x in pair]) or "none",
        }))

    def export_routes(self) -> list[str]:
        scratch = Scratch("routes", self.kind, self.root)
        env = scratch.app_env(free_port())
        out = run([sys.executable, "-c", "import json; from wsgi import app; "
                   "print(json.dumps(sorted(r.rule for r in app.url_map.iter_rules())))"],
                  cwd=common.APP_ROOT, env=env).stdout
        rules = json.loads(out.strip().splitlines()[-1])
        # a campaign's export: a route naming the campaign by slug, the .csv one first
        found = [r for r in rules if "<slug>" in r and re.search(r"export|\.csv", r)]
        return sorted(found, key=lambda r: not r.endswith(".csv"))

    def b4(self) -> None:
        routes = self.export_routes()
        if not routes:
            self.skip("B4", "export endpoint not present yet (no route with <slug> and 'export' or "
                            "'.csv' in the app's url_map); the plain streaming script is ready: "
                            "bench/stream_csv.py")
            return
        route = routes[0]
        log(f"{self.kind}: B4 export route {route}")
        db = self.scratch("b4")
        env = self.migrate_and_seed(db, 2)
        run([sys.executable, str(BENCH_DIR / "seed.py"), "signatures", "bench-1",
             str(self.args.b4_rows)], cwd=common.APP_ROOT, env=env)
        cookie = run([sys.executable, str(BENCH_DIR / "seed.py"), "campaigner"], cwd=common.APP_ROOT,
                     env=env).stdout.strip().splitlines()[-1]
        server = self.serve(Server(f"b4-{self.kind}", "wsgi:app", env, common.APP_ROOT, self.root), PAGE)
        url = server.base + re.sub(r"<(?:\w+:)?\w+>", "bench-1", route)

        def export():
            pids = server.worker_pids()
            base = {pid: rss_kib(pid) for pid in pids}
            peak = dict(base)
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    for pid in pids:
                        peak[pid] = max(peak.get(pid, 0), rss_kib(pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            status = subprocess.run(taskset(LOAD_CPUS) + ["curl", "-s", "-o", "/dev/null", "-w",
                                                          "%{http_code} %{size_download}", "-b",
                                                          cookie, url],
                                    capture_output=True, text=True).stdout
            status, _, size = status.partition(" ")
            elapsed = time.perf_counter() - started
            stop.set()
            sampler.join()
            growth = max(peak[p] - base.get(p, 0) for p in pids)
            return {"seconds": elapsed, "status": status, "bytes": int(size or 0), "growth_kib": growth,
                    "peak_kib": max(peak.values())}

        def plain():
            out = run(taskset(LOAD_CPUS) + [sys.executable, str(BENCH_DIR / "stream_csv.py"),
                                            db.url, "bench-1"]).stdout
            data = json.loads(out.strip().splitlines()[-1])
            data["growth_kib"] = data["peak_rss_kib"] - data["baseline_rss_kib"]
            return data

        first = export()
        if first["status"] != "200":
            self.skip("B4", f"export endpoint {route} answered {first['status']} to the bench "
                            "campaigner's session (bench/seed.py campaigner); sign-in changed?")
            return
        results = self.pairs(export, plain, limit=3)  # 1M rows: ~25 s a pair
        times = [a["seconds"] / b["seconds"] for a, b in results]
        mems = [max(a["growth_kib"], 1) / max(b["growth_kib"], 1) for a, b in results]
        self.record(Outcome("B4", self.kind, times, "<=", 1.5, details={
            "export s / plain s (median)": f"{statistics.median(a['seconds'] for a, _ in results):.1f}/"
                                           f"{statistics.median(b['seconds'] for _, b in results):.1f}",
            "rows, export bytes": f"{self.args.b4_rows:,}, {results[0][0]['bytes']:,}",
        }), label="time ratio")
        self.record(Outcome("B4", self.kind, mems, "<=", 2, details={
            "peak RSS growth KiB export/plain (median)":
                f"{statistics.median(a['growth_kib'] for a, _ in results):.0f}/"
                f"{statistics.median(b['growth_kib'] for _, b in results):.0f}",
        }), label="peak-memory ratio")

    def b5(self) -> None:
        big_rows = self.args.b5_rows_pg if self.kind == "postgresql" else self.args.b5_rows_sqlite
        small_rows = 10_000
        servers = {}
        for name, rows in (("b5small", small_rows), ("b5big", big_rows)):
            log(f"{self.kind}: B5 generating {rows:,} signature rows")
            db = self.scratch(name)
            env = self.migrate_and_seed(db, 10)
            started = time.monotonic()
            run([sys.executable, str(BENCH_DIR / "seed.py"), "signatures", "bench-1", str(rows)],
                cwd=common.APP_ROOT, env=env)
            log(f"{self.kind}: B5 {rows:,} rows in {time.monotonic() - started:.0f} s")
            servers[name] = self.serve(Server(f"{name}-{self.kind}", "wsgi:app", env, common.APP_ROOT, self.root), PAGE)

        def latency(server: Server):
            return pyload(["seq", "--url", server.base + PAGE, "--requests", str(self.args.b5_requests)])

        for server in servers.values():  # warm-up: both workers, templates, caches
            latency(server)
        results = self.pairs(lambda: latency(servers["b5big"]), lambda: latency(servers["b5small"]))
        ratios = [a["p50_ms"] / b["p50_ms"] for a, b in results]
        note = f" (scaled down on SQLite with --b5-rows-sqlite)" \
            if self.kind == "sqlite" and big_rows < 10_000_000 else ""
        self.record(Outcome("B5", self.kind, ratios, "<=", 1.2, details={
            "rows": f"{big_rows:,} vs {small_rows:,}{note}",
            "p50 ms big/small (median)": f"{statistics.median(a['p50_ms'] for a, _ in results):.2f}/"
                                         f"{statistics.median(b['p50_ms'] for _, b in results):.2f}",
            "p99 ratio big/small (median)":
                f"{statistics.median(a['p99_ms'] / b['p99_ms'] for a, b in results):.2f}",
        }), label=f"p50 ratio ({human(big_rows)}/10k rows)")

    # --- profiling ---------------------------------------------------------------------

    def profile(self, scenario: str) -> None:
        """py-spy every worker of the real app under the scenario's load; print the hot spots."""
        real, bare = self.main_servers()
        out_dir = BENCH_DIR / "profiles"
        out_dir.mkdir(exist_ok=True)
        raw = out_dir / f"{scenario}-{self.kind}.txt"
        seconds = max(self.args.seconds * 2, 8)
        spy = subprocess.Popen([str(BIN / "py-spy"), "record", "--pid", str(real.process.pid),
                                "--subprocesses", "--gil", "--duration", str(max(1, round(seconds))), "--rate", "200",
                                "--format", "raw", "--output", str(raw), "--nonblocking"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)
        load_seconds = seconds - 1
        saved = self.args.seconds
        self.args.seconds = load_seconds
        try:
            if scenario in ("B1", "B2"):
                self.sign_load(real)
            else:
                self.get_load(real.base + PAGE)
        finally:
            self.args.seconds = saved
        spy_output, _ = spy.communicate(timeout=seconds + 30)
        if raw.exists():
            print(summarise_profile(raw, scenario, self.kind), file=sys.stderr)
        else:
            log(f"py-spy wrote no profile (exit {spy.returncode}): {spy_output[-1500:]!r}; "
                f"try by hand: py-spy record --pid {real.process.pid} --subprocesses --gil")

    # --- driver ------------------------------------------------------------------------

    def run(self, selected: list[str]) -> None:
        if self.kind == "postgresql":
            flush_redis()
        try:
            # fixed order: B6 before B3 so that B3 reuses its capacity figure
            order = [s for s in ["B1", "B2", "B6", "B3", "B5", "B4"] if s in selected]
            for scenario in order:
                log(f"{self.kind}: {scenario}")
                try:
                    getattr(self, scenario.lower())()
                except Exception as exc:  # one broken scenario must not hide the others
                    line = f"{scenario} {self.kind}: ERROR {type(exc).__name__}: {str(exc)[:300]}"
                    self.lines.append(line)
                    print(line, flush=True)
                if scenario in self.args.profile and scenario in ("B1", "B2", "B3", "B6"):
                    self.profile(scenario)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        for scratch in self.scratches:
            if not self.args.keep:
                scratch.drop()
        if self.kind == "postgresql":
            flush_redis()
        if not self.args.keep:
            import shutil

            shutil.rmtree(self.root, ignore_errors=True)


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def summarise_profile(raw: Path, scenario: str, kind: str, top: int = 25) -> str:
    """Inclusive share of samples per function (py-spy raw = collapsed stacks)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        seen = set()
        for frame in frames:
            name = re.sub(r":\d+\)", ")", frame)
            if name not in seen:
                inclusive[name] = inclusive.get(name, 0) + n
                seen.add(name)
        leaf = re.sub(r":\d+\)", ")", frames[-1])
        own[leaf] = own.get(leaf, 0) + n
    lines = [f"profile {scenario} {kind}: {total} samples ({raw})", "  inclusive:"]
    for name, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"    {100 * n / max(total, 1):5.1f}%  {name}")
    lines.append("  self:")
    for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:15]:
        lines.append(f"    {100 * n / max(total, 1):5.1f}%  {name}")
    text = "\n".join(lines)
    raw.with_suffix(".summary.txt").write_text(text + "\n")
    return text


def machine() -> dict:
    import platform

    def version(module: str) -> str:
        try:
            from importlib.metadata import version as v

            return v(module)
        except Exception:
            return "?"

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = next((l.split()[1] for l in Path("/proc/meminfo").read_text().splitlines()
                if l.startswith("MemTotal")), "0")
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "show server_version"],
                        capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(int(mem) / 1024 / 1024, 1),
            "python": platform.python_version(), "flask": version("flask"),
            "sqlalchemy": version("sqlalchemy"), "gunicorn": version("gunicorn"),
            "psycopg": version("psycopg"), "postgresql": pg, "sqlite": __import__("sqlite3").sqlite_version,
            "wrk": have_wrk(), "load": os.getloadavg()}


def snapshot(rev: str) -> Path:
    """The app as committed at ``rev``, unpacked under /tmp (the repository is only read)."""
    commit = run(["git", "rev-parse", "--short", rev], cwd=ROOT).stdout.strip()
    target = Path(f"/tmp/bench-src-{commit}")
    if not (target / "wsgi.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.Popen(["git", "archive", commit], cwd=ROOT, stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, check=True)
        archive.wait()
    log(f"benchmarking git revision {commit} unpacked in {target}")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--only", default=os.environ.get("B", ""),
                        help="comma-separated scenarios (default: all; env B)")
    parser.add_argument("--db", default=os.environ.get("BENCH_DB", "sqlite,postgresql"))
    parser.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", "5")))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5")),
                        help="length of one closed-loop load run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--b3-seconds", type=float, default=10)
    parser.add_argument("--b3-signers", type=float, default=round(2000 / 60, 1),
                        help="B3's signers per second (default 33.3: 2,000 a minute, issue 7's "
                             "reference; 0: 25%% of the measured intake capacity)")
    parser.add_argument("--b5-rows-pg", type=int, default=10_000_000)
    parser.add_argument("--b5-rows-sqlite", type=int, default=10_000_000)
    parser.add_argument("--b5-requests", type=int, default=300)
    parser.add_argument("--b4-rows", type=int, default=1_000_000)
    parser.add_argument("--profile", nargs="?", const="B1,B2,B3,B6", default="",
                        help="py-spy the real app under these scenarios' load")
    parser.add_argument("--snapshot", default=os.environ.get("BENCH_SNAPSHOT", ""),
                        help="benchmark this git revision (git archive into /tmp) instead of the "
                             "working tree, e.g. HEAD while others edit the tree")
    parser.add_argument("--keep", action="store_true", help="keep scratch databases (debugging)")
    args = parser.parse_args()
    selected = [s.strip().upper() for s in args.only.split(",") if s.strip()] or ALL
    args.profile = [s.strip().upper() for s in args.profile.split(",") if s.strip()]
    letter_scenarios = [s for s in selected if s in ("L1", "L2")]  # bench/letters.py (issue 4)
    selected = [s for s in selected if s not in letter_scenarios] or ([] if letter_scenarios else ALL)
    unknown = set(selected) - set(ALL)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}; choose from {', '.join(ALL)}")
    if args.snapshot:
        common.APP_ROOT = snapshot(args.snapshot)
    info = machine()
    source = f"git {common.APP_ROOT.name[10:]}" if common.APP_ROOT != ROOT else "working tree"
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} app: {source}; {info['cpu']}, {info['cores']} cores, "
          f"{info['ram_gib']} GiB; Python {info['python']}, Flask {info['flask']}, SQLAlchemy "
          f"{info['sqlalchemy']}, gunicorn {info['gunicorn']}, PostgreSQL {info['postgresql']}, "
          f"SQLite {info['sqlite']}; load generator: {'wrk' if info['wrk'] else 'Python (wrk missing)'}; "
          f"load average at start {info['load'][0]:.2f}", flush=True)
    all_lines = []
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        bench = Bench(args, kind)
        bench.run(selected)
        all_lines += bench.lines
    if letter_scenarios or not args.only:
        import letters

        all_lines += letters.main(["--only", ",".join(letter_scenarios) or "L1,L2"])
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"machine": info, "args": vars(args),
                                                 "app": source, "lines": all_lines}, indent=2) + "\n")
    if common.APP_ROOT != ROOT and not args.keep:
        import shutil

        shutil.rmtree(common.APP_ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
