#!/usr/bin/env python3
"""Small helpers for bench/logs/run (Python 3 standard library only).

Subcommands:
  free-ports N                  print N free TCP ports on 127.0.0.1, one per line
  gen-log FILE LINES            write a deterministic mixed Compose-style log of LINES lines;
                                print "lines=<n> bytes=<n> events=<n> info=<n> warning=<n>
                                error=<n> debug=<n> regex_only=<n>" (events: lines whose level
                                is error or warning or that contain panic|unauthorized|exception,
                                the bench's filter, by construction of each line)
  event-pattern                 print the one regex (PCRE and Rust regex alike) that selects
                                exactly the event lines of gen-log's output, for syslog-ng and rg
  until-counted URL LINES TIMEOUT PID
                                poll GET URL (/summary) over one keep-alive connection until
                                the sum of "totals" reaches LINES; print "end=<unix s> polls=<n>
                                counted=<n>" (exit 1 on timeout or when PID has exited).
                                PID may be @FIFO: touch FIFO.ready once started, then read the
                                PID from FIFO (so the helper is up before the timing starts)
  until-lines FILE LINES TIMEOUT PID
                                wait until FILE holds LINES newline characters (read
                                incrementally); print "end=<unix s> lines=<n>" (exit 1 on
                                timeout or when PID has exited); PID as for until-counted
  until-output-then-counted FILE EVENTS URL LINES TIMEOUT PID
                                until-lines FILE EVENTS, then until-counted URL LINES (the
                                HTTP polling starts only then); print "output_at=<unix s>
                                end=<unix s> ..." (exit 1 on timeout or when PID has exited);
                                PID as for until-counted
  wait-open URL N TIMEOUT       wait until GET URL (/api/sources) lists at least N open sources;
                                print the seconds it took (exit 1 on timeout)
  metric URL NAME               print the sum of the samples of metric NAME at URL
  cpu PID                       print utime+stime of PID in clock ticks
  rss PID                       print "VmRSS_kB VmHWM_kB" of PID
  latency FILE URL COUNT RATE   follow URL (/logs/stream, server-sent events); append COUNT
                                lines to FILE at RATE lines/s, each "<RFC 3339 time> ERROR
                                latency probe seq=<i> sent_ns=<ns>"; print "sent=<n> seen=<n>
                                p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.." where a line's latency
                                is from just before its write(2) to when its event arrived
  idle-files DIR N              write N small log files DIR/idle-<i>.log

The generated log has no indented continuation lines, tracebacks or other lines the
multiline joiner would attach to the line before, so every line is its own record and the
number of events is known exactly.
"""

import http.client
import json
import os
import random
import socket
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from procstat import cpu, free_ports, proc_cpu, rss  # noqa: E402  (shared with the other bench)





# --- the generated log ----------------------------------------------------------------------

EVENT_PATTERN = "|".join(
    [
        # uvicorn: "ERROR:    ...", "WARNING:  ..."
        r"^(ERROR|WARNING):",
        # "<RFC 3339 time> ERROR ..." / "WARN"
        r"^\S+ (ERROR|WARN) ",
        # logfmt
        r"level=(error|warn) ",
        # JSON
        r'"level":"(error|warn)"',
        # nginx error log "2024/06/12 01:23:45 [error] ..."
        r"^\S+ \S+ \[(error|warn)\] ",
        # Python logging "2024-06-12 01:23:45,123 - name - ERROR - ..."
        r"^\S+ \S+ - \S+ - (ERROR|WARNING) - ",
        # the filter's regexes
        r"panic",
        r"unauthorized",
        r"exception",
    ]
)

PATHS = ["/api/items", "/api/items/{id}", "/api/users/{id}", "/api/orders", "/api/orders/{id}/lines",
         "/api/search?q=shoes&page={n}", "/healthz", "/api/cart/{id}", "/api/auth/token", "/metrics"]
METHODS = ["GET"] * 8 + ["POST", "PUT", "DELETE"]
STATUS = [("200", "OK")] * 30 + [("201", "Created")] * 3 + [("204", "No Content"), ("304", "Not Modified"),
          ("404", "Not Found"), ("401", "Unauthorized"), ("422", "Unprocessable Entity")]
STATIC = ["/static/js/main.{h}.js", "/static/css/app.{h}.css", "/favicon.ico", "/", "/static/media/logo.{h}.svg",
          "/index.html", "/manifest.json"]
AGENTS = ['"Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"',
          '"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"',
          '"curl/8.5.0"', '"kube-probe/1.29"', '"python-httpx/0.27.0"']
SERVICES = ["api", "web", "worker", "billing", "auth", "search"]
JOBS = ["send_email", "resize_image", "sync_inventory", "charge_card", "rebuild_index"]


class Clock:
    """Timestamps advancing 1 ms per line from 2024-06-12T00:00:00Z, formatted cheaply."""

    BASE = 1718150400  # 2024-06-12T00:00:00Z

    def __init__(self):
        self.second = None
        self.parts = None

    def at(self, i):
        second = self.BASE + i // 1000
        if second != self.second:
            self.second = second
            t = time.gmtime(second)
            self.parts = (time.strftime("%Y-%m-%dT%H:%M:%S", t), time.strftime("%Y-%m-%d %H:%M:%S", t),
                          time.strftime("%Y/%m/%d %H:%M:%S", t), time.strftime("%d/%b/%Y:%H:%M:%S +0000", t))
        return self.parts, i % 1000


def make_lines(count):
    """Yields (line, kind) where kind is the truth: info, debug, warning, error, or regex
    (a line of another level that the filter's regexes select)."""
    rng = random.Random(20240612)
    clock = Clock()
    r = rng.random
    ri = rng.randrange
    ch = rng.choice

    def path():
        return ch(PATHS).format(id=ri(1, 99999), n=ri(1, 20))

    def ip():
        return f"172.18.0.{ri(2, 40)}"

    for i in range(count):
        (iso, spaced, slashed, clf), ms = clock.at(i)
        ts = f"{iso}.{ms:03d}Z"
        x = r()
        # Mostly info (about 92%), some debug, ~3.5% warnings, ~2% errors, ~1% regex-only.
        if x < 0.22:
            code, reason = ch(STATUS)
            yield (f'INFO:     {ip()}:{ri(30000, 60999)} - "{ch(METHODS)} {path()} HTTP/1.1" {code} {reason}',
                   "info")
        elif x < 0.37:
            h = f"{ri(0, 1 << 32):08x}"
            yield (f'{ip()} - - [{clf}] "GET {ch(STATIC).format(h=h)} HTTP/1.1" {ch(["200", "200", "200", "304"])} '
                   f'{ri(200, 250000)} "-" {ch(AGENTS)}', "info")
        elif x < 0.55:
            y = r()
            if y < 0.80:
                yield (f"{ts} INFO worker: processed job {ch(JOBS)} id={ri(1, 10**6)} in {ri(1, 900)}ms "
                       f"queue=default attempts=1", "info")
            else:
                yield (f"{ts} DEBUG cache: lookup key=user:{ri(1, 10**5)} hit={ch(['true', 'false'])} "
                       f"took={ri(10, 999)}us", "debug")
        elif x < 0.73:
            yield (f'time={ts} level=info msg="request completed" method={ch(METHODS)} path={path()} '
                   f'status=200 duration={ri(1, 400)}.{ri(0, 9)}ms', "info")
        elif x < 0.86:
            yield (f'{{"time":"{ts}","level":"info","logger":"{ch(SERVICES)}","msg":"cache miss",'
                   f'"key":"session:{ri(1, 10**6):06d}","took_ms":{ri(1, 50)}}}', "info")
        elif x < 0.92:
            yield (f"{spaced},{ms:03d} - app.{ch(SERVICES)} - INFO - query ok table=orders rows={ri(0, 500)} "
                   f"elapsed={ri(1, 90)}ms", "info")
        elif x < 0.94:
            yield (f"{spaced},{ms:03d} - app.{ch(SERVICES)} - DEBUG - pool stats size=10 idle={ri(0, 10)}", "debug")
        elif x < 0.9450:
            yield (f"WARNING:  Invalid HTTP request received.", "warning")
        elif x < 0.9480:
            yield ("ERROR:    Exception in ASGI application", "error")
        elif x < 0.9600:
            yield (f"{ts} WARN slow request path={path()} duration={ri(1, 9)}.{ri(0, 9)}s threshold=1s", "warning")
        elif x < 0.9680:
            yield (f"{ts} ERROR Database connection failed: timeout after {ri(1, 30)}s host=db:5432", "error")
        elif x < 0.9780:
            yield (f'level=warn msg="slow query" duration={ri(1, 5)}.{ri(0, 9)}s table=orders rows={ri(1, 10**5)}',
                   "warning")
        elif x < 0.9830:
            yield (f'level=error msg="payment failed" err="card declined" order={ri(1, 10**6)} '
                   f'service={ch(SERVICES)}', "error")
        elif x < 0.9860:
            yield (f'{{"time":"{ts}","level":"error","logger":"{ch(SERVICES)}","msg":"upstream timed out",'
                   f'"upstream":"http://billing:8080","after_ms":{ri(1000, 30000)}}}', "error")
        elif x < 0.9880:
            yield (f'{{"time":"{ts}","level":"warn","logger":"{ch(SERVICES)}","msg":"retrying","attempt":{ri(1, 5)}}}',
                   "warning")
        elif x < 0.9900:
            yield (f"{slashed} [error] 29#29: *{ri(1, 10**6)} connect() failed (111: Connection refused) while "
                   f'connecting to upstream, client: {ip()}, server: _, request: "GET {path()} HTTP/1.1"', "error")
        elif x < 0.9910:
            yield (f"{slashed} [warn] 29#29: *{ri(1, 10**6)} an upstream response is buffered to a temporary file",
                   "warning")
        elif x < 0.9930:
            yield (f"{spaced},{ms:03d} - app.{ch(SERVICES)} - ERROR - could not serialize access due to "
                   f"concurrent update", "error")
        elif x < 0.9960:
            yield (f"{ts} INFO retrying request after exception in upstream call attempt={ri(1, 5)}", "regex")
        elif x < 0.9985:
            yield (f'level=info msg="auth check" result=unauthorized user=u{ri(1, 10**5)} path=/admin', "regex")
        else:
            yield (f'{{"time":"{ts}","level":"debug","msg":"recovered from panic in handler","handler":"/api/export"}}',
                   "regex")


def gen_log(path, count):
    kinds = {"info": 0, "debug": 0, "warning": 0, "error": 0, "regex": 0}
    size = 0
    buf = []
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for line, kind in make_lines(count):
            kinds[kind] += 1
            buf.append(line)
            if len(buf) == 20000:
                text = "\n".join(buf) + "\n"
                size += len(text)
                f.write(text)
                buf.clear()
        if buf:
            text = "\n".join(buf) + "\n"
            size += len(text)
            f.write(text)
    events = kinds["warning"] + kinds["error"] + kinds["regex"]
    print(f"lines={count} bytes={size} events={events} info={kinds['info']} debug={kinds['debug']} "
          f"warning={kinds['warning']} error={kinds['error']} regex_only={kinds['regex']}")


# --- polling --------------------------------------------------------------------------------

def pid_arg(arg):
    """A PID, or `@FIFO`: touch FIFO.ready (this interpreter has started and imported what it
    needs), then read the PID from FIFO once the process measured has been started. So the
    measured time holds neither the helper's start-up (about 0.4 s of CPU on a busy machine)
    nor its competition for the cores."""
    if not arg.startswith("@"):
        return int(arg)
    fifo = arg[1:]
    with open(fifo + ".ready", "w"):
        pass
    with open(fifo) as f:
        return int(f.read().strip())


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def poll_counted(url, lines, deadline, pid):
    """Polls GET URL (/summary) over one keep-alive connection until the sum of "totals"
    reaches LINES; returns (done, polls, counted)."""
    parsed = urllib.parse.urlsplit(url)
    target = parsed.path + ("?" + parsed.query if parsed.query else "")
    polls = counted = 0
    conn = None
    while time.monotonic() < deadline and alive(pid):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
            conn.request("GET", target)
            response = conn.getresponse()
            body = response.read()
            polls += 1
            if response.status == 200:
                counted = sum(json.loads(body)["totals"].values())
                if counted >= lines:
                    return True, polls, counted
        except (OSError, http.client.HTTPException, ValueError):
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(0.005)
    return False, polls, counted


def poll_lines(path, lines, deadline, pid):
    """Reads PATH as it grows until it holds LINES newline characters; returns (done, seen)."""
    seen = 0
    offset = 0
    while time.monotonic() < deadline and alive(pid):
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    offset += len(chunk)
                    seen += chunk.count(b"\n")
        except FileNotFoundError:
            pass
        if seen >= lines:
            return True, seen
        time.sleep(0.005)
    return False, seen


def until_counted(url, lines, limit, pid):
    done, polls, counted = poll_counted(url, lines, time.monotonic() + limit, pid)
    print(f"end={time.time():.6f} polls={polls} counted={counted}" + ("" if done else " failed=1"))
    return 0 if done else 1


def until_lines(path, lines, limit, pid):
    done, seen = poll_lines(path, lines, time.monotonic() + limit, pid)
    print(f"end={time.time():.6f} lines={seen}" + ("" if done else " failed=1"))
    return 0 if done else 1


def until_output_then_counted(path, events, url, lines, limit, pid):
    """First until PATH (the process's stdout) holds EVENTS lines, the moment syslog-ng is
    timed at too; only then polls URL until it counts LINES lines, so that the HTTP polling
    does not run beside the first measure."""
    deadline = time.monotonic() + limit
    done, seen = poll_lines(path, events, deadline, pid)
    output_at = time.time()
    if not done:
        print(f"output_at={output_at:.6f} end={output_at:.6f} lines={seen} failed=1")
        return 1
    done, polls, counted = poll_counted(url, lines, deadline, pid)
    print(f"output_at={output_at:.6f} end={time.time():.6f} lines={seen} polls={polls} counted={counted}"
          + ("" if done else " failed=1"))
    return 0 if done else 1


def wait_open(url, count, limit):
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                sources = json.loads(response.read()).get("sources", [])
            if sum(1 for s in sources if s.get("open")) >= count:
                print(f"{time.monotonic() - started:.1f}")
                return 0
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    print(f"timeout after {limit}s", file=sys.stderr)
    return 1


def metric(url, name):
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    print(int(total))








# --- latency --------------------------------------------------------------------------------

def latency(path, url, count, rate):
    parsed = urllib.parse.urlsplit(url)
    target = parsed.path + ("?" + parsed.query if parsed.query else "")
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    conn.request("GET", target, headers={"Accept": "text/event-stream"})
    response = conn.getresponse()
    if response.status != 200:
        print(f"stream answered {response.status}", file=sys.stderr)
        return 2
    seen = {}
    done = threading.Event()

    def follow():
        event = None
        try:
            while not done.is_set():
                raw = response.fp.readline()
                if not raw:
                    return
                now = time.time_ns()
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "log":
                    message = json.loads(line[5:].strip()).get("message", "")
                    for word in message.split():
                        if word.startswith("seq="):
                            seen.setdefault(int(word[4:]), now)
                elif line.startswith("data:") and event == "lagged":
                    print(f"stream lagged by {line[5:].strip()}", file=sys.stderr)
        except (OSError, ValueError):
            return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    sent = {}
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    interval = 1.0 / rate
    start = time.monotonic() + 0.2
    for seq in range(count):
        due = start + seq * interval
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now_ns = time.time_ns()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ns // 10**9))
        line = f"{stamp}.{(now_ns // 10**6) % 1000:03d}Z ERROR latency probe seq={seq} sent_ns={now_ns}\n"
        sent[seq] = now_ns
        os.write(fd, line.encode())
    os.close(fd)
    # The last line is held until the multiline timeout; give everything a few seconds.
    deadline = time.monotonic() + 5
    while len(seen) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    lat = sorted((seen[s] - sent[s]) / 1e6 for s in sent if s in seen)
    if not lat:
        print(f"sent={count} seen=0 p50_ms=nan p90_ms=nan p99_ms=nan max_ms=nan")
        return 0

    def pct(p):
        return lat[min(len(lat) - 1, max(0, int(round(p / 100 * len(lat) + 0.5)) - 1))]

    print(f"sent={count} seen={len(lat)} p50_ms={pct(50):.1f} p90_ms={pct(90):.1f} p99_ms={pct(99):.1f} "
          f"max_ms={lat[-1]:.1f} mean_ms={statistics.fmean(lat):.1f}")
    return 0


def idle_files(directory, count):
    os.makedirs(directory, exist_ok=True)
    for i in range(count):
        with open(os.path.join(directory, f"idle-{i}.log"), "w") as f:
            f.write(f"2024-06-12T00:00:00.000Z INFO service idle-{i} started\n")


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "free-ports":
        free_ports(int(args[0]))
    elif command == "gen-log":
        gen_log(args[0], int(args[1]))
    elif command == "event-pattern":
        print(EVENT_PATTERN)
    elif command == "until-counted":
        return until_counted(args[0], int(args[1]), float(args[2]), pid_arg(args[3]))
    elif command == "until-lines":
        return until_lines(args[0], int(args[1]), float(args[2]), pid_arg(args[3]))
    elif command == "until-output-then-counted":
        return until_output_then_counted(args[0], int(args[1]), args[2], int(args[3]), float(args[4]),
                                         pid_arg(args[5]))
    elif command == "wait-open":
        return wait_open(args[0], int(args[1]), float(args[2]))
    elif command == "metric":
        metric(args[0], args[1])
    elif command == "cpu":
        cpu(args[0])
    elif command == "rss":
        rss(args[0])
    elif command == "latency":
        return latency(args[0], args[1], int(args[2]), float(args[3]))
    elif command == "idle-files":
        idle_files(args[0], int(args[1]))
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
