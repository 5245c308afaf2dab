#!/usr/bin/python3
"""The Python Socket.IO client against a shmio cluster: Debian 12's python3-socketio (5.7.2, with
python3-requests and python3-websocket; scripts/setup.sh installs them) connects unchanged, over
WebSocket, polling, and polling upgraded to WebSocket, to a cluster of two workers running the
bench app (docs/bench-app.md), one client on each worker.

Checked for each transport: the CONNECT (the client's sid is the server's socket id), acks both
ways (the client's call() of a server event, and the server's broadcast with acks answered by the
client's handler), rooms across the workers (a publish on worker 1 to a room reaches the member on
worker 0 and not the one outside it), binary data both ways (bytes echoed as bytes), and that the
clients' disconnects leave no socket behind (the cluster counts none before the next round). Over
WebSocket: the namespace's middleware refusing a CONNECT with data (the conformance app's
/secure), the auth payload, several arguments. Then SIGTERM: the cluster drains, exits 0 and
removes its ring.

Run by ctest (e2e_python_client) with Debian's /usr/bin/python3 (the one python3-socketio is
installed for; -I, so that no other socketio on the user's path is taken): SHMIO_BIN is the
shmio binary.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

try:
    import socketio  # python3-socketio
except ImportError:
    sys.exit("python3-socketio is missing (Debian 12: run scripts/setup.sh, which installs it "
             "with python3-requests and python3-websocket)")

BIN = os.environ.get("SHMIO_BIN") or sys.exit("SHMIO_BIN must name the shmio binary")
WAIT = 10.0  # seconds: the bound on anything that should happen at once


def fail(message):
    raise AssertionError(message)


def free_ports(n):
    """n consecutive free ports (checked by binding them), for --port-per-worker."""
    for _ in range(50):
        base = random.randint(20000, 50000)
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                s.bind(("127.0.0.1", base + i))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    fail("no free ports")


class Cluster:
    """`shmio --app APP --workers N --port-per-worker` on a ring of its own; worker i on
    port base + i once every worker says it listens."""

    def __init__(self, app, workers, extra=(), base=None):
        self.base = base if base is not None else free_ports(workers)
        self.ring = "test-py-%d-%d" % (os.getpid(), random.randint(0, 10**6))
        self.proc = subprocess.Popen(
            [BIN, "--app", app, "--workers", str(workers), "--port", str(self.base),
             "--port-per-worker", "--ring", self.ring, "--no-pin", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
        self.log = []
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()
        # (The start's deadline holds even if the cluster says nothing: a timer kills it.)
        timer = threading.Timer(20, self.proc.kill)
        timer.start()
        try:
            listening = set()
            while len(listening) < workers:
                line = self.proc.stdout.readline()
                if not line:
                    fail("%s exited with %s: %s" % (BIN, self.proc.wait(), "".join(self.log)))
                if " listening on " in line and line.startswith("shmio worker "):
                    listening.add(int(line.split()[2]))
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            self._remove_ring()
            raise
        finally:
            timer.cancel()
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()

    def _drain(self, stream):
        for line in stream:
            self.log.append(line)

    def url(self, worker):
        return "http://127.0.0.1:%d" % (self.base + worker)

    def _remove_ring(self):
        for name in os.listdir("/dev/shm"):
            if self.ring in name:
                try:
                    os.remove(os.path.join("/dev/shm", name))
                except OSError:
                    pass

    def stop(self, check=True):
        """SIGTERM: drained, exit 0, the ring removed (checked unless `check` is false: a test
        that failed already). A cluster that must be killed has its files removed here."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._remove_ring()
            if check:
                fail("the cluster did not stop on SIGTERM")
            return
        left = os.path.exists("/dev/shm/shmio." + self.ring)
        self._remove_ring()
        if not check:
            return
        if rc != 0:
            fail("the cluster exited %s: %s" % (rc, "".join(self.log)))
        if left:
            fail("the cluster left its ring behind")


class Inbox:
    """Events of one name received by a client, waited for with a deadline."""

    def __init__(self, client, event):
        self.items = []
        self.cond = threading.Condition()
        client.on(event, self._add)

    def _add(self, *args):
        with self.cond:
            self.items.append(args[0] if len(args) == 1 else args)
            self.cond.notify_all()

    def wait_for(self, n, what):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.items) >= n, timeout=WAIT):
                fail("timed out waiting for %s (have %r)" % (what, self.items))
            return list(self.items)


def connect(url, transports, **kwargs):
    c = socketio.Client(reconnection=False)
    return c, lambda: c.connect(url, transports=transports, wait_timeout=WAIT, **kwargs)


def wait_for_count(cluster, n, what):
    """Until the cluster counts n sockets (fetchSockets over both workers), asked from a client of
    its own, bounded."""
    c = socketio.Client(reconnection=False)
    c.connect(cluster.url(0), transports=["websocket"], wait_timeout=WAIT)
    try:
        # (A polling socket whose DISCONNECT the client dropped goes within the heartbeat: ping
        # interval and timeout, 7 s.)
        deadline = time.monotonic() + WAIT + 7
        while True:
            count = c.call("count", timeout=WAIT) - 1  # (less the asking client)
            if count == n:
                return
            if time.monotonic() > deadline:
                fail("%s: the cluster counts %d sockets, not %d" % (what, count, n))
            time.sleep(0.1)  # (a socket left behind goes at its ping timeout: polled, bounded)
    finally:
        c.disconnect()


def check_transport(cluster, transports):
    name = "+".join(transports)
    # What the last round's clients left: nothing (their disconnects reached the server).
    wait_for_count(cluster, 0, "%s: before" % name)
    a, connect_a = connect(cluster.url(0), transports)
    b, connect_b = connect(cluster.url(1), transports)
    a_msgs, b_msgs = Inbox(a, "msg"), Inbox(b, "msg")
    # The server's broadcast with acks ("ask-all"): each client answers with its own name.
    a.on("question", lambda *args: "a")
    b.on("question", lambda *args: "b")
    try:
        connect_a()
        connect_b()
        who_a = a.call("whoami", timeout=WAIT)
        who_b = b.call("whoami", timeout=WAIT)
        if who_a.get("worker") != 0 or who_b.get("worker") != 1:
            fail("%s: not one client on each worker: %r %r" % (name, who_a, who_b))
        if who_a.get("id") != a.get_sid():
            fail("%s: the server's socket id %r is not the client's sid %r"
                 % (name, who_a.get("id"), a.get_sid()))
        # (python-engineio upgrades within connect(), before it returns.)
        for c in (a, b):
            if c.transport() != transports[-1]:
                fail("%s: on %s" % (name, c.transport()))
        # Rooms across the workers: a publish on worker 1 to "py-room", where only a is a member.
        if a.call("join", "py-room", timeout=WAIT).get("worker") != 0:
            fail("%s: join answered by the wrong worker" % name)
        b.call("publish", ("py-room", {"n": 1, "from": "b"}), timeout=WAIT)
        got = a_msgs.wait_for(1, "%s: the room's message" % name)
        if got != [{"n": 1, "from": "b"}]:
            fail("%s: the room's message: %r" % (name, got))
        # To everyone: both get it; b did not get the room's.
        a.call("publish", (None, "all"), timeout=WAIT)
        if b_msgs.wait_for(1, "%s: the broadcast on worker 1" % name) != ["all"]:
            fail("%s: b got %r (the room's message reached it?)" % (name, b_msgs.items))
        if a_msgs.wait_for(2, "%s: the broadcast on worker 0" % name)[1] != "all":
            fail("%s: a got %r" % (name, a_msgs.items))
        # Binary data both ways. (Three tries: python-engineio 4.3 hands each message to a thread
        # of its own, and an attachment handled before its header is dropped by python-socketio,
        # "Unexpected binary attachment", python-socketio issue 436: the ack then never comes.)
        data = bytes([0, 1, 2, 255]) * 64
        for attempt in range(3):
            try:
                echoed = b.call("echo", data, timeout=WAIT / 2)
                break
            except socketio.exceptions.TimeoutError:
                if attempt == 2:
                    raise
        if echoed != data:
            fail("%s: binary echo: %r" % (name, echoed))
        # The server's broadcast with acks, across both workers: every client's answer.
        answer = a.call("ask-all", 5000, timeout=WAIT)
        if answer.get("error") is not None or sorted(answer.get("responses", [])) != ["a", "b"]:
            fail("%s: ask-all: %r" % (name, answer))
    finally:
        a.disconnect()
        b.disconnect()
    print("ok - %s: connect, acks both ways, rooms across workers, binary" % name)


def check_refusal(cluster):
    """A namespace middleware's refusal with data reaches the client's connect_error."""
    c = socketio.Client(reconnection=False)
    errors = []
    refused = threading.Event()

    def on_error(data):
        errors.append(data)
        refused.set()

    c.on("connect_error", on_error, namespace="/secure")
    try:
        c.connect(cluster.url(0), namespaces=["/secure"], auth={"token": "nope"},
                  transports=["websocket"], wait=False)
        refused.wait(WAIT)
    finally:
        c.disconnect()
    if not errors:
        fail("no connect_error for a refused CONNECT")
    data = errors[0]
    if not isinstance(data, dict) or data.get("message") != "unauthorized" \
            or data.get("data") != {"reason": "bad token"}:
        fail("connect_error: %r" % (data,))
    ok = socketio.Client(reconnection=False)
    auths = Inbox(ok, "auth")
    ok.connect(cluster.url(1), namespaces=["/"], auth={"token": "abc"}, transports=["websocket"],
               wait_timeout=WAIT)
    try:
        if auths.wait_for(1, "the auth event") != [{"token": "abc"}]:
            fail("auth: %r" % auths.items)
        back = Inbox(ok, "message-back")
        ok.emit("message", (1, "2", {"3": [True]}))
        if back.wait_for(1, "message-back") != [(1, "2", {"3": [True]})]:
            fail("message-back: %r" % back.items)
    finally:
        ok.disconnect()
    print("ok - a middleware's refusal with data, the auth payload, several arguments")


def check_reconnect_after_restart():
    """A client left to reconnect (python-socketio's default) comes back when the cluster it was
    on stops (SIGTERM: the server closes its WebSocket) and another starts on the same port. The
    server closes a WebSocket with no Engine.IO close packet, as engine.io does: until 2026-12-07
    a "1" came first, which python-engineio takes for a close the server asked for, and
    python-socketio then never reconnected (a rolling restart stranded every Python client)."""
    first = Cluster("bench", 1, PINGS)
    c = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5)
    connects = []
    connected = threading.Condition()

    def on_connect():
        with connected:
            connects.append(time.monotonic())
            connected.notify_all()

    c.on("connect", on_connect)
    second = None
    try:
        c.connect(first.url(0), transports=["websocket"], wait_timeout=WAIT)
        with connected:
            connected.wait_for(lambda: len(connects) >= 1, timeout=WAIT)
        first.stop()
        second = Cluster("bench", 1, PINGS, base=first.base)
        with connected:
            if not connected.wait_for(lambda: len(connects) >= 2, timeout=WAIT):
                fail("the client did not reconnect after the server closed its WebSocket")
        if c.call("whoami", timeout=WAIT).get("worker") != 0:
            fail("whoami after the reconnect")
    finally:
        c.disconnect()
        if second is not None:
            second.stop()
        else:
            first.stop(check=False)
    print("ok - a client reconnects after the server closed its WebSocket (a restart)")


# (Heartbeats of a few seconds: a socket a client left behind goes within them. The conformance
# app's own, the protocol suite's 300/200 ms, are too tight for a Python client's two threads on a
# loaded machine.)
PINGS = ("--ping-interval", "2000", "--ping-timeout", "5000")


def main():
    bench = Cluster("bench", 2, PINGS)
    ok = False
    try:
        for transports in (["websocket"], ["polling"], ["polling", "websocket"]):
            check_transport(bench, transports)
        wait_for_count(bench, 0, "after the last round")
        ok = True
    finally:
        bench.stop(check=ok)
    print("ok - the bench cluster drained on SIGTERM, exit 0, its ring removed")
    conformance = Cluster("conformance", 2, PINGS)
    ok = False
    try:
        check_refusal(conformance)
        ok = True
    finally:
        conformance.stop(check=ok)
    check_reconnect_after_restart()


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
