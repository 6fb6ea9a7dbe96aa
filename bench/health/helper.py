#!/usr/bin/env python3
"""Small helpers for bench/health/run (Python 3 standard library only).

Subcommands:
  free-ports N                       print N free TCP ports on 127.0.0.1, one per line
  nginx-conf DIR PORT...             write DIR/nginx.conf: a static "200 ok" on every PORT
  our-config FILE N INTERVAL PORT... write a healthcheck_dashboard config with N http endpoints
  targets FILE N PORT...             write the same N target URLs, one per line
  wait-health URL TIMEOUT            wait until GET URL answers 200; print the seconds it took
  metrics URL                        print "checks=<sum of healthcheck_checks_total> failures=<..>
                                     missed=<healthcheck_missed_rounds_total>"
  body-size URL                      print the size in bytes of GET URL's body
  snapshot PID URL start|end         print "cpu=<ticks> ms=<unix ms> checks=.. failures=.. missed=.." read
                                     back to back, the scrape outside the measured window
  cpu PID                            print utime+stime of PID in clock ticks
  rss PID                            print "VmRSS_kB VmHWM_kB" of PID
  drive-blackbox EXPORTER TARGETS INTERVAL DURATION
                                     ask blackbox_exporter to probe every target once per
                                     INTERVAL seconds for DURATION seconds, the way Prometheus
                                     would (one scrape loop and one keep-alive connection per
                                     target, start times spread over the interval); print
                                     "probes=<n> success=<n> errors=<n> late=<n>"

Target URLs are spread over the target ports with distinct paths (/t/<i>), so every endpoint
has its own URL while the target server needs only a few listening sockets.
"""

import asyncio
import os
import random
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from procstat import cpu, free_ports, proc_cpu, rss  # noqa: E402  (shared with the other bench)





def target_urls(count, ports):
    return [f"http://127.0.0.1:{ports[i % len(ports)]}/t/{i}" for i in range(count)]


def nginx_conf(directory, ports):
    listens = "\n".join(f"        listen 127.0.0.1:{p} backlog=4096 reuseport;" for p in ports)
    text = f"""# Written by bench/health/helper.py: a static 200 on every target port.
worker_processes 2;
pid {directory}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server {{
{listens}
        default_type text/plain;
        location / {{
            return 200 "ok\\n";
        }}
    }}
}}
"""
    with open(f"{directory}/nginx.conf", "w") as f:
        f.write(text)


def our_config(path, count, interval, ports):
    lines = [
        "# Written by bench/health/helper.py.",
        "[checks]",
        f"interval_secs = {interval}",
        "endpoints = [",
    ]
    for i, url in enumerate(target_urls(count, ports)):
        lines.append(f'  {{ name = "t{i}", url = "{url}", type = "http" }},')
    lines += ["]", "", "[alerts]", "enabled = false", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def targets(path, count, ports):
    with open(path, "w") as f:
        f.write("\n".join(target_urls(count, ports)) + "\n")


def http_status(url, timeout=5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as err:
        err.read()
        return err.code
    except OSError:
        return None


def wait_health(url, limit):
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if http_status(url) == 200:
            print(f"{time.monotonic() - started:.1f}")
            return 0
        time.sleep(0.25)
    print(f"timeout after {limit}s", file=sys.stderr)
    return 1


def metrics(url, out=None):
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    checks = failures = missed = 0
    for line in text.splitlines():
        if line.startswith("healthcheck_checks_total{"):
            value = float(line.rsplit(" ", 1)[1])
            checks += value
            if 'result="failure"' in line:
                failures += value
        elif line.startswith("healthcheck_missed_rounds_total"):
            missed = float(line.rsplit(" ", 1)[1])
    line = f"checks={int(checks)} failures={int(failures)} missed={int(missed)}"
    if out is None:
        print(line)
    return line




def snapshot(pid, url, edge):
    """CPU ticks and /metrics counters read back to back; the scrape stays outside the
    measured window (scrape first at its start, CPU first at its end)."""
    if edge == "start":
        line = metrics(url, out=False)
        ticks = proc_cpu(pid)
        print(f"cpu={ticks} ms={int(time.time() * 1000)} {line}")
        return
    else:
        ticks = proc_cpu(pid)
        line = metrics(url, out=False)
    print(f"cpu={ticks} ms={int(time.time() * 1000)} {line}")


def body_size(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            print(len(response.read()))
    except urllib.error.HTTPError as err:
        print(len(err.read()))






async def read_response(reader):
    """Reads one HTTP/1.1 response (Content-Length or chunked) and returns its body."""
    header = await reader.readuntil(b"\r\n\r\n")
    length, chunked = 0, False
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return await reader.readexactly(length)
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers: the empty line
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def drive_blackbox(exporter, targets_file, interval, duration):
    parsed = urllib.parse.urlsplit(exporter)
    host, port = parsed.hostname, parsed.port
    with open(targets_file) as f:
        urls = [line.strip() for line in f if line.strip()]
    counts = {"probes": 0, "success": 0, "errors": 0, "late": 0}
    started = time.monotonic()
    deadline = started + duration

    async def scrape_loop(url):
        path = "/probe?" + urllib.parse.urlencode({"module": "http_2xx", "target": url})
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   "User-Agent: bench-health-driver\r\n\r\n").encode()
        reader = writer = None
        due = started + random.uniform(0, interval)
        while due < deadline:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > interval / 2:
                counts["late"] += 1
            due += interval
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                await writer.drain()
                body = await read_response(reader)
                counts["probes"] += 1
                if b"\nprobe_success 1" in b"\n" + body:
                    counts["success"] += 1
                else:
                    counts["errors"] += 1
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                counts["errors"] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(scrape_loop(url) for url in urls))
    print(" ".join(f"{k}={v}" for k, v in counts.items()))


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "free-ports":
        free_ports(int(args[0]))
    elif command == "nginx-conf":
        nginx_conf(args[0], [int(p) for p in args[1:]])
    elif command == "our-config":
        our_config(args[0], int(args[1]), int(args[2]), [int(p) for p in args[3:]])
    elif command == "targets":
        targets(args[0], int(args[1]), [int(p) for p in args[2:]])
    elif command == "wait-health":
        return wait_health(args[0], float(args[1]))
    elif command == "metrics":
        metrics(args[0])
    elif command == "body-size":
        body_size(args[0])
    elif command == "snapshot":
        snapshot(args[0], args[1], args[2])
    elif command == "cpu":
        cpu(args[0])
    elif command == "rss":
        rss(args[0])
    elif command == "drive-blackbox":
        asyncio.run(drive_blackbox(args[0], args[1], float(args[2]), float(args[3])))
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
