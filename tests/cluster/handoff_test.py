#!/usr/bin/env python3
"""The hand-off socket's bounds, hit by a real process against a real cluster (issue 11).

`shmio --app bench --workers 2` on one shared port (hand-off on). This test speaks the hand-off
protocol itself (a SOCK_SEQPACKET message: magic, flags, length, the bytes, the connection's
descriptor by SCM_RIGHTS; server/cluster/src/handoff.hpp) on worker 0's socket. HANDOFF_MODE picks
where the sockets are: "directory" (the default: the files 0, 1 in the supervisor's private
directory, <TMPDIR or /tmp>/shmio-handoff.<pid>-XXXXXX) or "abstract" (the cluster started with a
TMPDIR where no directory can be made: the workers fall back to abstract addresses, and say so).

* directory mode: the directory is 0700 and this user's; stale directories of killed supervisors
  are swept at start (a minute old, locked by no process), the others kept; the cluster's own is
  locked while it runs;
  a worker killed with SIGKILL leaves its socket file, and its successor binds in its place; the
  directory is removed when the cluster stops;

* a well-formed message is adopted: the worker answers the HTTP request on the passed TCP
  connection (the control);
* a bad magic, a length over 64 MiB, a message without a descriptor, a length that does not match
  the bytes: each dropped, its descriptor closed (the peer sees EOF), said on stderr, counted in
  shmio_handoffs_refused_total; the worker still adopts the next good one;
* a message of no bytes carrying a descriptor: dropped, its descriptor closed;
* a process of another user (run as root only: a child that becomes nobody): in directory mode it
  can neither connect to a worker's socket nor bind a dead worker's; in abstract mode its
  connection is refused, and when it binds a dead worker's address it is handed nothing (the
  sender checks who listens);
* the 200 ms send timeout: with worker 1 stopped and its hand-off backlog full, worker 0 drops a
  request it cannot hand over after two tries (its connection closed, counted in
  shmio_handoffs_failed_total) and keeps answering; it waits so only once: worker 1 is then
  marked stuck, and later requests for it are dropped without waiting (said on stderr) until it
  takes a hand-off again;
* a stopped owner: with worker 1 SIGSTOPped, requests for its sessions that land on worker 0 are
  handed over and queue in the kernel while worker 0 keeps answering; resumed, worker 1 answers
  every one.
Run by ctest (SHMIO_BIN). Exit 0 when every check holds.
"""
import array
import fcntl
import glob
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

BIN = os.environ["SHMIO_BIN"]
MAGIC = 0x48414E44
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MODE = os.environ.get("HANDOFF_MODE", "directory")
assert MODE in ("directory", "abstract"), MODE
env = dict(os.environ)
if MODE == "abstract":
    env["TMPDIR"] = f"/nonexistent-shmio-handoff-test-{os.getpid()}"
# Where the supervisor makes the directory (server/cluster/src/supervisor.cpp, handoff_base):
# under TMPDIR when it is absolute and short enough, else /tmp.
base = env.get("TMPDIR", "")
base = base.rstrip("/") or "/" if base.startswith("/") else "/tmp"
if len(base) + 48 > 108:
    base = "/tmp"

# Left as a killed supervisor would leave them (directory mode), each with a socket file nobody
# listens on: one a minute old and locked by no process (swept), one just made (kept: not yet
# locked by its maker), one locked as a live cluster's workers hold it (kept).
stale = {}
locked = None
if MODE == "directory":
    for what, age in (("stale", 120), ("young", 0), ("locked", 120)):
        d = f"{base}/shmio-handoff.{os.getpid()}-test{len(stale)}"
        os.mkdir(d, 0o700)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as ls:
            ls.bind(f"{d}/0")
        if what == "locked":
            locked = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(locked, fcntl.LOCK_SH)
        t = time.time() - age
        os.utime(d, (t, t))
        stale[what] = d

port = free_port()
ring = f"hoff-{os.getpid()}"
errlog = open(f"/tmp/shmio-handoff-test-{os.getpid()}.log", "w+")
proc = subprocess.Popen([BIN, "--app", "bench", "--workers", "2", "--port", str(port), "--ring",
                         ring, "--no-pin"], stdout=subprocess.PIPE, stderr=errlog, text=True,
                        env=env)
workers = {}
deadline = time.time() + 20
while len(workers) < 2:
    line = proc.stdout.readline()
    if not line or time.time() > deadline:
        proc.kill()
        errlog.seek(0)
        sys.exit(f"handoff_test: the cluster did not start: {errlog.read()}")
    m = re.search(r"shmio worker (\d+) \(pid (\d+)", line)
    if m:
        workers[int(m.group(1))] = int(m.group(2))

# The workers that listen from now on (a restarted one's line), read as they come.
started = []


def read_started():
    for line in proc.stdout:
        m = re.search(r"shmio worker (\d+) \(pid (\d+)", line)
        if m:
            started.append((int(m.group(1)), int(m.group(2))))


threading.Thread(target=read_started, daemon=True).start()

DIR = None
if MODE == "directory":
    found = glob.glob(f"{base}/shmio-handoff.{proc.pid}-*")
    if len(found) != 1:
        proc.kill()
        sys.exit(f"handoff_test: no hand-off directory of supervisor {proc.pid} in {base}: {found}")
    DIR = found[0]


def address(index):
    return f"{DIR}/{index}" if DIR else f"\0shmio-handoff.{ring}.{index}"


def handoff_socket(index, wait=0.0):
    """A connection to worker `index`'s hand-off socket; with `wait`, tried again (for up to that
    many seconds) while its listen backlog is full (a non-blocking connect says EAGAIN) or it
    does not listen yet."""
    deadline = time.time() + wait
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.setblocking(wait == 0.0)
        try:
            s.connect(address(index))
            s.setblocking(True)
            return s
        except (BlockingIOError, ConnectionRefusedError, FileNotFoundError):
            # (A full backlog; or, with `wait`, a worker not yet (re)started: its socket file has
            # no listener, or is not there yet.)
            s.close()
            if time.time() > deadline or wait == 0.0:
                raise
            time.sleep(0.05)


def tcp_pair():
    """A connected TCP pair: (ours, the one we pass as if a worker had accepted it)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    a = socket.create_connection(ls.getsockname())
    b, _ = ls.accept()
    ls.close()
    return a, b


def send(s, payload, fd=None, magic=MAGIC, length=None, in_memfd=0):
    header = struct.pack("<IIQ", magic, in_memfd, len(payload) if length is None else length)
    anc = [] if fd is None else [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
    s.sendmsg([header + payload], anc)


def reply_or_eof(a, timeout=3.0):
    a.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = a.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False


REQUEST = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def good_handoff(s):
    a, b = tcp_pair()
    send(s, REQUEST, b.fileno())
    b.close()
    data, _ = reply_or_eof(a)
    a.close()
    return data


def gone(pid, timeout=10):
    """Waits until process `pid` has ended (a zombie or reaped: its descriptors closed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    raise RuntimeError(f"process {pid} did not end")


def stderr_has(text):
    errlog.flush()
    with open(errlog.name) as f:
        return text in f.read()


ANSWER_S = [0.0]  # how long the request worker 0 answered took (metric() below)


def metric(name):
    """Worker 0's counter (asked through the shared port until worker 0 answers). The time of
    the request it answered is left in ANSWER_S[0]: attempts that landed on a stopped worker (1 s
    each, a coin toss per connection) say nothing about worker 0."""
    for _ in range(40):
        body = b""
        t0 = time.time()
        try:  # a connection that lands on a stopped worker gets no answer: try again
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while chunk := c.recv(65536):
                    body += chunk
        except OSError:
            continue
        m = re.search(rf'^{name}{{worker="0"}} (\d+)$', body.decode(errors="replace"), re.M)
        if m:
            ANSWER_S[0] = time.time() - t0
            return int(m.group(1))
    return None


try:
    if MODE == "directory":
        st = os.lstat(DIR)
        check(st.st_mode & 0o777 == 0o700 and st.st_uid == os.geteuid() and
              os.path.exists(f"{DIR}/0") and os.path.exists(f"{DIR}/1"),
              f"the hand-off sockets are in a directory of this user's closed to others ({DIR})")
        check(not os.path.exists(stale["stale"]) and os.path.exists(stale["young"]) and
              os.path.exists(stale["locked"]),
              "a killed supervisor's directory is swept at start; a young one and a locked one "
              "are kept")
        probe_lock = os.open(DIR, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(probe_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = False
        except BlockingIOError:
            held = True
        os.close(probe_lock)
        check(held, "the cluster's own directory is locked while it runs (no sweep takes it)")
    else:
        check(stderr_has("no directory for the hand-off sockets"),
              "without a directory the workers use abstract addresses, and say so")
    s = handoff_socket(0)
    data = good_handoff(s)
    check(data.startswith(b"HTTP/1.1 200") and b'"worker":0' in data,
          "a well-formed hand-off is adopted: worker 0 answers on the passed connection")

    bad = {
        "bad magic": dict(magic=0x12345678),
        "a length over 64 MiB": dict(length=(64 << 20) + 1),
        "a length that does not match the bytes": dict(length=len(REQUEST) + 10),
    }
    for what, kw in bad.items():
        a, b = tcp_pair()
        send(s, REQUEST, b.fileno(), **kw)
        b.close()
        data, eof = reply_or_eof(a)
        a.close()
        check(eof and data == b"", f"{what}: dropped, its descriptor closed (EOF, no answer)")
    send(s, REQUEST, None)  # no descriptor at all
    data = good_handoff(s)
    check(data.startswith(b"HTTP/1.1 200"), "after every bad message the next good one is adopted")
    # (Worker 1 may answer: it shows worker 0's series as worker 0 last posted them on the board,
    # once a second, from its start on: asked again until they say it, within a few posts.)
    deadline = time.time() + 5
    refused = metric("shmio_handoffs_refused_total")
    while refused != 4 and time.time() < deadline:
        time.sleep(0.1)  # (a published value polled for, bounded)
        refused = metric("shmio_handoffs_refused_total")
    check(refused == 4, f"shmio_handoffs_refused_total on worker 0 is 4 (got {refused})")
    # A message of no bytes that carries a descriptor: malformed, its descriptor closed (before,
    # taken for the end of the hand-off connection, the descriptor stayed open in the worker).
    a, b = tcp_pair()
    s.sendmsg([b""], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [b.fileno()]))])
    b.close()
    data, eof = reply_or_eof(a)
    a.close()
    check(eof and data == b"", "an empty message's descriptor is closed (EOF, no answer)")
    s.close()

    if os.geteuid() == 0:
        a, b = tcp_pair()
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(65534)
                os.setuid(65534)
                t = handoff_socket(0)
                send(t, REQUEST, b.fileno())
                t.settimeout(3)
                closed = t.recv(1) == b""
            except PermissionError:  # (directory mode: it cannot even connect)
                os._exit(4)
            except OSError:
                closed = True
            os._exit(0 if closed else 1)
        b.close()
        _, status = os.waitpid(pid, 0)
        data, eof = reply_or_eof(a)
        a.close()
        if MODE == "directory":
            check(os.WEXITSTATUS(status) == 4 and eof and data == b"",
                  "another user cannot connect to a worker's hand-off socket (EACCES)")
        else:
            check(os.WEXITSTATUS(status) == 0 and eof and data == b"",
                  "another user's hand-off connection is closed, its descriptor never adopted")
    else:
        print("skip  another user's hand-off (needs root to switch users)")

    # The 200 ms hand-off send timeout: worker 1 stopped and its hand-off socket's backlog full
    # (we connect until the kernel refuses), so worker 0 can neither connect to it nor send. A
    # request for a worker-1 session that lands on worker 0 is dropped after one wait of at most
    # 200 ms (its connection closed without an answer: the client retries), counted in
    # shmio_handoffs_failed_total; worker 0 keeps answering. (Before any other hand-off to worker
    # 1: worker 0 has no connection to it yet.)
    failed_before = metric("shmio_handoffs_failed_total") or 0
    waits_before = metric("shmio_handoff_waits_total")
    os.kill(workers[1], signal.SIGSTOP)
    fillers, dropped, waited = [], 0, []
    try:
        for _ in range(1000):
            f = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            f.setblocking(False)
            try:
                f.connect(address(1))
            except BlockingIOError:
                f.close()
                break
            fillers.append(f)
        check(0 < len(fillers) < 1000, f"worker 1's hand-off backlog is full ({len(fillers)} queued)")
        for i in range(24):  # about half land on worker 0 (the others wait in stopped worker 1)
            if dropped >= 5:
                break
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid=AB{i:018d} HTTP/1.1\r\n"
                      "Host: x\r\nConnection: close\r\n\r\n".encode())
            t0 = time.time()
            data, eof = reply_or_eof(c, timeout=1.5)
            c.close()
            if eof and data == b"":
                dropped += 1
                waited.append(time.time() - t0)
        failed = metric("shmio_handoffs_failed_total")
        waits = metric("shmio_handoff_waits_total")
        check(dropped >= 1 and failed is not None and failed - failed_before == dropped,
              f"hand-offs to a stuck worker are dropped and counted ({dropped} dropped, "
              f"shmio_handoffs_failed_total {failed_before} -> {failed})")
        check(all(w < 1.2 for w in waited),
              f"each drop within one 200 ms wait (waited {[round(w, 2) for w in waited]} s)")
        # Only the first drop waits; worker 1 is then marked stuck and each later one fails at
        # once. (Before 2026-12-02 each waited 400 ms, in worker 0's only thread: a stuck worker
        # stalled every worker that got requests for its sessions.)
        # Counted by worker 0 (shmio_handoff_waits_total), not timed: the first usually waits
        # 0.14-0.19 s as measured here, but on the 2-vCPU machine the kernel's wait ends early
        # now and then (0.04-0.07 s in 1 of 6 runs on 2026-12-05, with the code of before that
        # day too), and a later drop's time is this script's scheduling as much as worker 0's.
        # (Its time is not bounded here beyond the 1.2 s above: a loaded machine stretches it.)
        check(len(waited) >= 3 and waits_before is not None
              and waits is not None and waits - waits_before == 1,
              f"only the first drop waits (shmio_handoff_waits_total {waits_before} -> {waits}; "
              f"the first took {waited[0]:.2f} s)")
        # (A worker's stderr reaches the log through its log thread: read until it is there,
        # bounded. The check failed once in a CI run of 2026-12-03, read before the line came.)
        deadline = time.time() + 5
        while not stderr_has("worker 1 takes no hand-offs") and time.time() < deadline:
            time.sleep(0.05)
        check(stderr_has("worker 1 takes no hand-offs"), "worker 0 says that worker 1 is stuck")
        check(metric("shmio_connections") is not None, "worker 0 answers meanwhile")
    finally:
        os.kill(workers[1], signal.SIGCONT)
        for f in fillers:
            f.close()
    # Worker 1 takes the (now closed) queued connections off its backlog once it runs again; a
    # hand-off of our own behind them, answered by worker 1, shows it has (the next part needs
    # worker 0 to reach it again).
    probe = handoff_socket(1, wait=10)
    data = good_handoff(probe)
    probe.close()
    check(b'"worker":1' in data, "resumed, worker 1 drains its backlog and adopts hand-offs again")

    # A stopped owner: worker 1 SIGSTOPped; requests for worker-1 sessions (a sid's first two
    # characters name its owner: "AB" is worker 1) land on either worker; worker 0 hands its share
    # over. The hand-offs queue in the kernel (a fresh hand-off connection, with a buffer of its
    # own, when one is full: up to eight more); worker 0 never waits on them. When
    # worker 1 resumes, it adopts and answers every one (400: no such session).
    os.kill(workers[1], signal.SIGSTOP)
    conns = []
    try:
        for i in range(600):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid=AB{i:018d} HTTP/1.1\r\n"
                      "Host: x\r\nConnection: close\r\n\r\n".encode())
            conns.append(c)
        handed = metric("shmio_handed_off_total")
        check(handed is not None and handed > 100 and ANSWER_S[0] < 5,
              f"worker 0 keeps answering while its hand-offs to a stopped worker queue "
              f"({handed} handed over; answered in {ANSWER_S[0]:.2f} s)")
    finally:
        os.kill(workers[1], signal.SIGCONT)
    answered = 0
    for c in conns:
        data, _ = reply_or_eof(c, timeout=10)
        answered += data.startswith(b"HTTP/1.1 400")
        c.close()
    check(answered == len(conns), f"after SIGCONT every queued connection is answered "
                                  f"({answered} of {len(conns)})")
    # Worker 0 may have handed every queued one over before the SIGCONT: then its first hand-off
    # after it comes now (requests for worker-1 sessions until one lands on worker 0; the mark
    # stays a second at least).
    deadline = time.time() + 10
    i = 0
    while not stderr_has("worker 1 takes hand-offs again") and time.time() < deadline:
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid=AB9{i:017d} HTTP/1.1\r\n"
                  "Host: x\r\nConnection: close\r\n\r\n".encode())
        reply_or_eof(c, timeout=3)
        c.close()
        i += 1
        time.sleep(0.05)
    check(stderr_has("worker 1 takes hand-offs again"),
          "worker 0's first hand-off to the resumed worker 1 clears the stuck mark (said)")
    # Out of descriptors: worker 1's limit set so that it can open none, then a connection to its hand-off
    # socket, which it cannot accept (EMFILE) and which stays queued. It pauses and looks again
    # (100 ms) instead of spinning on the readable listener (found in review, 2026-12-01: a full
    # core while any connection was queued).
    def cpu_ticks(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)

    import resource
    w1 = workers[1]
    # (A connection it has taken already, for the hand-off below that comes with no descriptor
    # free.)
    accepted = handoff_socket(1, wait=5)
    check(b'"worker":1' in good_handoff(accepted), "a connection worker 1 has taken")
    # (A new descriptor takes the lowest free number, which must be below the limit: the limit
    # is set to the lowest number free now.)
    used = {int(x) for x in os.listdir(f"/proc/{w1}/fd")}
    lowest_free = next(i for i in range(len(used) + 1) if i not in used)
    soft, hard = resource.prlimit(w1, resource.RLIMIT_NOFILE)
    resource.prlimit(w1, resource.RLIMIT_NOFILE, (lowest_free, hard))
    try:
        queued = handoff_socket(1, wait=5)  # queued: the worker's listener is readable from now
        before = cpu_ticks(w1)
        time.sleep(1.0)  # the interval measured
        spent = (cpu_ticks(w1) - before) / os.sysconf("SC_CLK_TCK")
        check(spent < 0.3, f"a worker out of descriptors does not spin on a queued hand-off "
                           f"connection ({spent:.2f} s of CPU in 1 s)")
        # A hand-off on the connection it had taken waits, queued, said as such (before
        # 2026-12-06 the worker read it, the kernel could not give it the descriptor, MSG_CTRUNC,
        # and the client's connection was closed), and its wait does not spin either.
        a, b = tcp_pair()
        send(accepted, REQUEST, b.fileno())
        b.close()
        deadline = time.time() + 5
        while not stderr_has("hand-offs wait") and time.time() < deadline:
            time.sleep(0.02)
        check(stderr_has("hand-offs wait: this worker has no descriptor free"),
              "a hand-off that comes with no descriptor free waits, said as such")
        before = cpu_ticks(w1)
        data, eof = reply_or_eof(a, timeout=1.0)
        spent = (cpu_ticks(w1) - before) / os.sysconf("SC_CLK_TCK")
        check(data == b"" and not eof, "its client is neither answered nor closed meanwhile")
        check(spent < 0.3, f"a worker out of descriptors does not spin on a queued hand-off "
                           f"({spent:.2f} s of CPU in 1 s)")
    finally:
        resource.prlimit(w1, resource.RLIMIT_NOFILE, (soft, hard))
    # Given descriptors again, it takes the hand-off that waited (its client answered) and the
    # queued connection (a hand-off on it is adopted and answered).
    data, eof = reply_or_eof(a, timeout=5.0)
    a.close()
    accepted.close()
    check(data.startswith(b"HTTP/1.1 200"), f"the hand-off that waited is answered: {data[:40]!r}")
    data = good_handoff(queued)
    queued.close()
    check(b'"worker":1' in data, "the queued connection is taken once descriptors are back")

    # Another user's process holding a dead worker's hand-off address (bound in the moment
    # between worker 1's death and its successor's start): worker 0 hands it nothing — it checks
    # who listens — counts and says so (run as root only: a child that becomes nobody).
    if MODE == "directory":
        # A worker killed with SIGKILL leaves its socket file; its successor binds in its place
        # (and meanwhile another user's process cannot bind there: run as root only).
        os.kill(workers[1], signal.SIGKILL)
        gone(workers[1])  # (until then its listener may still take a connection, then reset it)
        if os.geteuid() == 0:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    # (The path's lookup fails first: the directory is closed to it.)
                    socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(f"{DIR}/1")
                except PermissionError:
                    code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            check(os.WEXITSTATUS(status) == 0,
                  "another user cannot bind a dead worker's hand-off socket (EACCES)")
        # Its successor listening (not before: a killed worker's listener can outlive its
        # process by a moment, a connection to it then closed unanswered).
        deadline = time.time() + 10
        while not any(w == 1 and p != workers[1] for w, p in started) and time.time() < deadline:
            time.sleep(0.02)
        check(any(w == 1 and p != workers[1] for w, p in started),
              "worker 1's successor listens within 10 s")
        probe = handoff_socket(1, wait=10)
        data = good_handoff(probe)
        probe.close()
        check(b'"worker":1' in data,
              "worker 1's successor binds in place of the file its killed predecessor left "
              f"(answered {data[:60]!r})")
    elif os.geteuid() == 0:
        ready_r, ready_w = os.pipe()
        got_r, got_w = os.pipe()
        squatter = os.fork()
        if squatter == 0:
            try:
                os.setgid(65534)
                os.setuid(65534)
                ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                until = time.time() + 5
                while True:
                    try:
                        ls.bind(address(1))
                        break
                    except OSError:
                        if time.time() > until:
                            os._exit(2)
                ls.listen(16)
                os.write(ready_w, b"1")
                ls.settimeout(4)
                got = b"0"
                try:
                    c, _ = ls.accept()
                    c.settimeout(2)
                    _, anc, _, _ = c.recvmsg(65536, socket.CMSG_SPACE(8))
                    got = b"1" if anc else b"0"
                except OSError:
                    pass
                os.write(got_w, got)
            except BaseException:
                os._exit(3)
            os._exit(0)
        os.close(ready_w)
        os.close(got_w)
        os.kill(workers[1], signal.SIGKILL)
        bound = os.read(ready_r, 1) == b"1"
        failed_before = metric("shmio_handoffs_failed_total") or 0
        for i in range(8):  # about half land on worker 0, which would hand them to "worker 1"
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid=AB{i:018d} HTTP/1.1\r\n"
                      "Host: x\r\nConnection: close\r\n\r\n".encode())
            reply_or_eof(c, timeout=1.5)
            c.close()
        # (The squatter answers after the first connection to it, or after its own 4 s timeout.)
        handed = os.read(got_r, 1) if bound else b"?"
        os.waitpid(squatter, 0)
        os.close(ready_r)
        os.close(got_r)
        failed_after = metric("shmio_handoffs_failed_total") or 0
        check(bound and handed == b"0" and failed_after > failed_before,
              f"no connection is handed to another user's process on a worker's address "
              f"(bound: {bound}, a descriptor received: {handed == b'1'}, "
              f"failed hand-offs {failed_before} -> {failed_after})")
    else:
        print("skip  another user's process on a worker's hand-off address (needs root)")
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    if locked is not None:
        os.close(locked)
    for d in stale.values():
        subprocess.run(["rm", "-rf", d])

if MODE == "directory":
    check(not os.path.exists(DIR), "the hand-off directory is removed when the cluster stops")

errlog.seek(0)
log = errlog.read()
errlog.close()
os.unlink(errlog.name)
# Said, at most a line a second (the four bad messages come within milliseconds; before
# 2026-12-03 each was a line: any local process could fill the log through an abstract address).
said = log.count("malformed hand-off message was dropped")
check(1 <= said < 4, f"bad messages are said on stderr, at most a line a second ({said} lines)")
if os.geteuid() == 0 and MODE == "abstract":
    check("hand-off address is held by another user's process" in log,
          "the hand-off to another user's listener is said on stderr")
    check("hand-off connection from another user was refused" in log,
          "the other user's connection is said on stderr")
print(json.dumps({"failures": failures}))
sys.exit(1 if failures else 0)
