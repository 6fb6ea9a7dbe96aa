"""What both benchmarks read about processes and ports, in one place (Python stdlib only).

free_ports(count)  print `count` TCP ports on 127.0.0.1 that were free a moment ago
proc_cpu(pid)      utime + stime of PID in clock ticks
cpu(pid)           print proc_cpu(pid)
rss(pid)           print "VmRSS_kB VmHWM_kB" of PID
rss_tree(pid)      (VmRSS of PID, VmRSS of PID and all its descendants, descendants) in kB
"""

import os
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


def _vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # a zombie, or a kernel thread


def rss_tree(pid):
    """(own, total, descendants): VmRSS in kB of PID alone and summed over PID and every
    process descended from it (found through the parent ids in /proc/*/stat), and how many
    descendants there were. Processes that end while being read count as 0. A descendant
    still running PID's own executable is a vfork(2) child before its exec (Go's and glibc's
    posix_spawn way of starting a command): it shares PID's memory, so it counts as 0 too."""
    pid = int(pid)
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    own = _vm_rss(pid)
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = None
    total, count, todo = own, 0, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        todo.extend(children.get(child, []))
        count += 1
        try:
            if exe is not None and os.readlink(f"/proc/{child}/exe") == exe:
                continue
            total += _vm_rss(child)
        except OSError:
            continue
    return own, total, count
