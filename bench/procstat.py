"""What both benchmarks read about processes and ports, in one place (Python stdlib only).

free_ports(count)  print `count` TCP ports on 127.0.0.1 that were free a moment ago
proc_cpu(pid)      utime + stime of PID in clock ticks
cpu(pid)           print proc_cpu(pid)
rss(pid)           print "VmRSS_kB VmHWM_kB" of PID
"""

import socket


def free_ports(count):
    sockets, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    print("\n".join(str(p) for p in ports))


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the comm field: fields[0] is state (field 3), so utime (14) is fields[11].
    return int(fields[11]) + int(fields[12])


def cpu(pid):
    print(proc_cpu(pid))


def rss(pid):
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    print(values.get("VmRSS", 0), values.get("VmHWM", 0))
