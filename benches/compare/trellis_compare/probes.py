"""Measurements that need a client of their own: time to the first proxied 200, memory with
10,000 idle keep-alive connections, and how fast a renamed policy file decides requests.

A raw socket client keeps the probe's own cost (and so its timing error) to a few tens of
microseconds, well below the millisecond figures it measures.
"""

import os
import socket
import threading
import time


class Conn:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads fixed-length answers."""

    def __init__(self, port, timeout=2.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, path):
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nhost: bench\r\nuser-agent: trellis-compare\r\n\r\n".encode())

    def read(self):
        """The status of the next answer (its body is read and dropped)."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before an answer")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while b"0\r\n\r\n" not in rest:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed inside a chunked body")
                rest += chunk
            self.buf = rest[rest.index(b"0\r\n\r\n") + 5:]
            return status
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed inside a body")
            rest += chunk
        self.buf = rest[length:]
        return status

    def get(self, path):
        self.send(path)
        return self.read()

    def close(self):
        self.sock.close()


def time_to_first_200(started, port, path, proc, timeout=30.0):
    """Milliseconds from `started` (taken just before exec) to the first `200` through `port`:
    connect and request in a tight loop, as a readiness probe of a restarting sidecar would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"`{' '.join(proc.argv)}` exited:\n{proc.tail()}")
        try:
            c = Conn(port, timeout=1.0)
            try:
                if c.get(path) == 200:
                    return (time.perf_counter() - started) * 1000.0
            finally:
                c.close()
        except OSError:
            pass
        time.sleep(0.0002)
    raise RuntimeError(f"no 200 from port {port} within {timeout} s:\n{proc.tail()}")


def open_idle_connections(port, path, count, batch=100):
    """`count` keep-alive connections, each having completed one request; returns them open.

    Requests go out `batch` connections at a time (each batch answered before the next is
    sent): the connections' memory is then what they hold once idle, not the peak of
    `count` requests in flight at once, which the allocator keeps resident afterwards and
    which varies with how the burst happened to be scheduled."""
    conns = []
    bad = 0
    try:
        while len(conns) < count:
            group = []
            for _ in range(min(batch, count - len(conns))):
                c = Conn(port, timeout=10.0)
                conns.append(c)
                c.send(path)
                group.append(c)
            bad += sum(1 for c in group if c.read() != 200)
    except BaseException:
        for c in conns:
            c.close()
        raise
    if bad:
        for c in conns:
            c.close()
        raise RuntimeError(f"{bad} of {count} requests on fresh connections did not answer 200")
    return conns


def reload_latency(port, path, policy_path, write_variant, expect_after, timeout=5.0):
    """Milliseconds from the atomic rename of a new policy to the first answer decided by it.

    `write_variant(tmp)` writes the new file next to the policy; the rename is then timed and
    `path` requested every millisecond on one keep-alive connection until it answers
    `expect_after`.
    """
    tmp = os.path.join(os.path.dirname(policy_path), ".next-policy.json")
    write_variant(tmp)
    conn = Conn(port)
    try:
        t0 = time.perf_counter()
        os.rename(tmp, policy_path)
        deadline = t0 + timeout
        while time.perf_counter() < deadline:
            if conn.get(path) == expect_after:
                return (time.perf_counter() - t0) * 1000.0
            time.sleep(0.001)
    finally:
        conn.close()
    raise RuntimeError(f"`{path}` did not answer {expect_after} within {timeout} s of the rename")


class ReloadStorm:
    """Replaces the policy file by rename once per `period` seconds until stopped."""

    def __init__(self, policy_path, variants, period=1.0):
        self.policy_path = policy_path
        self.variants = variants
        self.period = period
        self.renames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        tmp = os.path.join(os.path.dirname(self.policy_path), ".storm-policy.json")
        i = 0
        while not self._stop.wait(self.period):
            self.variants[i % len(self.variants)](tmp)
            os.rename(tmp, self.policy_path)
            self.renames += 1
            i += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
