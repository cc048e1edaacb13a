"""A small Python load generator (aiohttp) for what wrk cannot do, printing one JSON line.

    loadgen.py open --read-url U --read-rate R [--write-url W --write-rate S] --seconds T
        open loop: requests start on a fixed schedule whatever the server's speed, so a slow
        response cannot hide the ones queued behind it (no coordinated omission); latency is
        counted from the scheduled start. POSTs carry a new signer's JSON each time.
    loadgen.py seq --url U --requests N
        one keep-alive connection, one request after another: plain latency.
    loadgen.py closed --url U --seconds T --connections C --mode get|sign|insert
        saturating load, the fallback when wrk is not installed.

Every run is bounded in time and count and sends traffic to 127.0.0.1 only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from urllib.parse import urlsplit

import aiohttp

RUN = uuid.uuid4().hex[:10]
_counter = 0


def signer_body() -> bytes:
    global _counter
    _counter += 1
    return json.dumps({
        "first_name": "Ana", "last_name": "Silva", "email": f"p-{RUN}-{_counter}@bench.example",
        "country": "DE", "postcode": "10115", "public": True, "consent_updates": True,
    }).encode()


def check_local(url: str) -> str:
    host = urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host in {"localhost", "::1"}):
        raise SystemExit(f"refusing to send load to {host}: loopback only")
    return url


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(latencies: list[float], errors: int, seconds: float) -> dict:
    ms = [x * 1000 for x in latencies]
    return {"requests": len(ms) + errors, "errors": errors, "seconds": seconds,
            "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms) if ms else float("nan"),
            "mean_ms": statistics.fmean(ms) if ms else float("nan")}


async def one(session: aiohttp.ClientSession, method: str, url: str, body: bytes | None) -> bool:
    headers = {"Content-Type": "application/json"} if body is not None else None
    async with session.request(method, url, data=body, headers=headers) as response:
        await response.read()
        return response.status < 400


async def open_loop(args: argparse.Namespace) -> dict:
    classes = [("read", "GET", check_local(args.read_url), args.read_rate)]
    if args.write_url and args.write_rate > 0:
        classes.append(("write", "POST", check_local(args.write_url), args.write_rate))
    results = {name: ([], [0]) for name, *_ in classes}
    connector = aiohttp.TCPConnector(limit=args.max_connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + 0.05
        tasks = []

        async def fire(name: str, method: str, url: str, when: float) -> None:
            delay = when - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = signer_body() if method == "POST" else None
            latencies, errors = results[name]
            try:
                ok = await one(session, method, url, body)
            except Exception:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - when)
            else:
                errors[0] += 1

        for name, method, url, rate in classes:
            count = int(rate * args.seconds)
            for i in range(count):
                tasks.append(asyncio.ensure_future(fire(name, method, url, start + i / rate)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {name: summary(lat, err[0], elapsed) for name, (lat, err) in results.items()}


async def sequential(args: argparse.Namespace) -> dict:
    url = check_local(args.url)
    latencies, errors = [], 0
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        for _ in range(args.requests):
            t0 = time.perf_counter()
            try:
                ok = await one(session, "GET", url, None)
            except Exception:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1
        elapsed = time.perf_counter() - started
    return summary(latencies, errors, elapsed)


async def closed(args: argparse.Namespace) -> dict:
    url = check_local(args.url)
    method = "GET" if args.mode == "get" else "POST"
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + args.seconds
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    ok = await one(session, method, url, signer_body() if method == "POST" else None)
                except Exception:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.connections)))
        elapsed = time.perf_counter() - started
    return summary(latencies, errors, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("open")
    p.add_argument("--read-url", required=True)
    p.add_argument("--read-rate", type=float, required=True)
    p.add_argument("--write-url")
    p.add_argument("--write-rate", type=float, default=0)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--max-connections", type=int, default=64)
    p = sub.add_parser("seq")
    p.add_argument("--url", required=True)
    p.add_argument("--requests", type=int, default=200)
    p = sub.add_parser("closed")
    p.add_argument("--url", required=True)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--mode", choices=["get", "sign", "insert"], default="get")
    args = parser.parse_args()
    if hasattr(args, "seconds"):  # bounded: no run longer than two minutes
        args.seconds = min(args.seconds, 120)
    if hasattr(args, "requests"):
        args.requests = min(args.requests, 100_000)
    runner = {"open": open_loop, "seq": sequential, "closed": closed}[args.command]
    print(json.dumps(asyncio.run(runner(args))))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
