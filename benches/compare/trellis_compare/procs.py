"""Processes of a configuration: started pinned to a core, measured through /proc, stopped.

CPU time comes from /proc/<pid>/stat (utime + stime of every thread, summed over the
process and its children such as nginx's worker): it counts what the system under test spent,
whatever else the machine runs, which wall-clock throughput cannot.
"""

import os
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SUT_CORE = 0
LOAD_CORE = 1
# Every CPU this process may use, read at import, before the harness pins itself to LOAD_CORE:
# an unpinned child must be given them back, or it inherits the harness's single core.
ALL_CORES = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))


def cpu_list(core):
    """taskset's CPU list for `core`; `None` is every core."""
    return ALL_CORES if core is None else str(core)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    """Direct and indirect children of `pid` (nginx's worker, a shell's child)."""
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for c in f.read().split():
                    out.append(int(c))
                    out.extend(children(int(c)))
    except OSError:
        pass
    return out


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name may hold spaces and parentheses: split after the last `)`.
    return text[text.rindex(")") + 2:].split()


def cpu_seconds(pids):
    """utime + stime of `pids` and all their children, in seconds."""
    total = 0
    for pid in set(pids) | {c for p in pids for c in children(p)}:
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # fields 14 and 15: utime, stime
    return total / CLK_TCK


def status_kib(pids, field):
    """Sum of a /proc/<pid>/status field (`VmRSS`, `VmHWM`) in KiB over `pids` and children."""
    total = 0
    for pid in set(pids) | {c for p in pids for c in children(p)}:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def socket_count(pids):
    """Open sockets of `pids` and their children (listeners and connections alike)."""
    total = 0
    for pid in set(pids) | {c for p in pids for c in children(p)}:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                total += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
            except OSError:
                continue
    return total


class Proc:
    """A process pinned to `core` (`None`: free to run on every core), its output in `log`."""

    def __init__(self, argv, core, log, env=None):
        self.argv = argv
        self.log_path = log
        self.log = open(log, "ab")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            ["taskset", "-c", cpu_list(core), *argv], stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        # taskset execs the program in place: the pid is the program's.
        self.pid = self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=5.0):
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()

    def tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


def wait_listening(port, proc=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"`{' '.join(proc.argv)}` exited:\n{proc.tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")
