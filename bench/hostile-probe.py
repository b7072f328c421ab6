#!/usr/bin/env python3
"""Hostile-client probe (issue 12, item 7): while 1,100 connections send headers a byte at a
time and 50 clients post 25 MiB bodies with bad signatures in parallel, signed deliveries
must still be answered with a p99 under 1 s, and the server's peak RSS stay under 300 MB.
With `--trickle N` (issue 22, item 5), N connections from another loopback address (127.0.0.2)
also trickle request bodies a byte every 200 ms, reconnecting whenever they are cut.

Usage: bench/hostile-probe.py --url http://127.0.0.1:3000 --secret S --pid PID [--seconds 20]
       [--slow 1100] [--huge 50] [--trickle 300]
The server must run with the same secret; run it under `ulimit -n 1024` to reproduce the
issue's setting (bench/hostile-probe.sh does all of this).
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import pathlib
import time
import urllib.parse

FIXTURE = pathlib.Path(__file__).resolve().parent.parent / (
    "fixtures/github-webhooks/issue_comment/created.payload.json"
)


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def slow_headers(host, port, stop, counters):
    """Opens a connection and sends a header one byte every 2 s, reconnecting when closed."""
    request = b"POST /webhooks/github HTTP/1.1\r\nhost: probe\r\nx-padding: " + b"a" * 10_000
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            counters["slow_connect_failed"] += 1
            await asyncio.sleep(0.5)
            continue
        counters["slow_opened"] += 1
        try:
            for byte in request:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(2)
                if reader.at_eof():
                    break
        except OSError:
            pass
        counters["slow_closed"] += 1
        writer.close()


async def huge_bad_body(host, port, stop, counters):
    """Posts 25 MiB bodies with a wrong signature, one after another."""
    size = 25 * 1024 * 1024
    chunk = b" " * (1024 * 1024)
    head = (
        "POST /webhooks/github HTTP/1.1\r\nhost: probe\r\ncontent-type: application/json\r\n"
        "x-github-event: issue_comment\r\nx-github-delivery: huge\r\n"
        f"x-hub-signature-256: sha256={'0' * 64}\r\ncontent-length: {size}\r\n"
        "connection: close\r\n\r\n"
    ).encode()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(head)
            sent = 0
            while sent < size and not reader.at_eof():
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
            status = (await asyncio.wait_for(reader.readline(), 15)).split(b" ")[1:2]
            counters[f"huge_{status[0].decode() if status else 'none'}"] += 1
            writer.close()
        except (OSError, asyncio.TimeoutError, IndexError):
            counters["huge_broken"] += 1
            await asyncio.sleep(0.1)


async def trickled_body(host, port, stop, counters, source):
    """From `source` (another loopback address), declares a 100 kB body and sends a byte of it
    every 200 ms, reconnecting when cut: a crowd holding body permits (issue 22, item 5)."""
    head = (
        "POST /slack/commands HTTP/1.1\r\nhost: probe\r\n"
        "content-type: application/x-www-form-urlencoded\r\ncontent-length: 100000\r\n\r\n"
    ).encode()
    hook = (
        "POST /webhooks/github HTTP/1.1\r\nhost: probe\r\ncontent-type: application/json\r\n"
        "x-github-event: issue_comment\r\nx-github-delivery: trickle\r\n"
        f"x-hub-signature-256: sha256={'0' * 64}\r\ncontent-length: 100000\r\n\r\n"
    ).encode()
    n = 0
    while not stop.is_set():
        n += 1
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            counters["trickle_connect_failed"] += 1
            await asyncio.sleep(0.2)
            continue
        counters["trickle_opened"] += 1
        try:
            writer.write(head if n % 2 else hook)
            await writer.drain()
            while not stop.is_set() and not reader.at_eof():
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.2)
        except OSError:
            pass
        counters["trickle_cut"] += 1
        writer.close()


async def signed_deliveries(host, port, secret, stop, latencies, counters, sender):
    body = FIXTURE.read_bytes()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    n = 0
    while not stop.is_set():
        n += 1
        head = (
            "POST /webhooks/github HTTP/1.1\r\nhost: probe\r\ncontent-type: application/json\r\n"
            f"x-github-event: issue_comment\r\nx-github-delivery: probe-{sender}-{n}-{time.time_ns()}\r\n"
            f"x-hub-signature-256: {signature}\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            writer.write(head + body)
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 10)
            status = line.split(b" ")[1].decode() if line else "closed"
            writer.close()
        except (OSError, asyncio.TimeoutError, IndexError):
            status = "failed"
        latencies.append(time.perf_counter() - started)
        counters[f"signed_{status}"] += 1
        await asyncio.sleep(0.05)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--slow", type=int, default=1100)
    parser.add_argument("--huge", type=int, default=50)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--trickle", type=int, default=0,
                        help="connections trickling bodies from --trickle-from")
    parser.add_argument("--trickle-from", default="127.0.0.2")
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.url)
    host, port = url.hostname, url.port

    from collections import Counter

    counters, latencies, stop = Counter(), [], asyncio.Event()
    tasks = [asyncio.create_task(slow_headers(host, port, stop, counters)) for _ in range(args.slow)]
    await asyncio.sleep(3)  # let the crowd gather before measuring
    tasks += [asyncio.create_task(huge_bad_body(host, port, stop, counters)) for _ in range(args.huge)]
    tasks += [
        asyncio.create_task(trickled_body(host, port, stop, counters, args.trickle_from))
        for _ in range(args.trickle)
    ]
    tasks += [
        asyncio.create_task(signed_deliveries(host, port, args.secret, stop, latencies, counters, s))
        for s in range(args.senders)
    ]
    rss_samples = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        rss_samples.append(rss_mib(args.pid))
    stop.set()
    await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    report = {
        "signed_deliveries": len(latencies),
        "p50_ms": round(pick(0.50) * 1000, 1),
        "p99_ms": round(pick(0.99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "peak_rss_mib": round(peak_rss_mib(args.pid), 1),
        "max_sampled_rss_mib": round(max(rss_samples), 1) if rss_samples else None,
        "counters": dict(sorted(counters.items())),
    }
    print(json.dumps(report, indent=2))
    ok = report["p99_ms"] < 1000 and report["peak_rss_mib"] < 300 and counters["signed_202"] == len(latencies)
    print("PASS" if ok else "FAIL")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
