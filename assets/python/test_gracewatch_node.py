"""Tests of gracewatch_node against a real fake supervisor.

Each test runs the node code as a real subprocess (with -X dev -W error, so warnings and
unclosed sockets show up) and a Unix socket server in a thread that answers the hello and
checks every line it receives against docs/protocol.md (types, fields, the token ledger),
as the supervisor would.

    cd assets/python && python3 -m unittest -v test_gracewatch_node
"""

import ast
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(HERE), "demo")

SIGNAL_NAMES = {
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
    "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
}
SIGNAL_NAMES.update("SIG%d" % n for n in range(32, 65))

# type -> required fields and their types, as in docs/protocol.md
REQUIRED = {
    "hello": {"node": str, "secret": str, "pid": int, "language": str, "client_version": str},
    "listen_stop": {},
    "handler": {"signal": str, "outcome": str, "owner": str, "thread": str, "main_thread": bool},
    "token_issued": {"id": int, "receivers": list},
    "token_released": {"id": int, "receiver": str},
    "fork": {"parent_pid": int, "child_pid": int, "threads": int},
    "stop_ack": {},
    "dropped": {"count": int},
}

# How long to wait for something that should happen (a wait returns as soon as it does): long,
# because CI machines are shared and slow at times.
WAIT = 20.0


def _off_main_thread_error():
    """This interpreter's own words for signal.signal off the main thread."""
    out = []

    def attempt():
        try:
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        except ValueError as e:
            out.append(str(e))

    t = threading.Thread(target=attempt)
    t.start()
    t.join()
    return out[0]


# "signal only works in main thread of the main interpreter" (3.8: "... main thread")
SIGNAL_OFF_MAIN_THREAD = _off_main_thread_error()


class FakeSupervisor(object):
    """A node socket that answers hello with welcome (or refused) and records every line."""

    def __init__(self, answer="welcome", hold_welcome=False, node="cam", secret="0123456789abcdef0123456789abcdef"):
        self.dir = tempfile.mkdtemp(prefix="gw-test-")
        self.path = os.path.join(self.dir, "nodes.sock")
        self.node = node
        self.secret = secret
        self.answer = answer
        self.welcome_gate = threading.Event()
        if not hold_welcome:
            self.welcome_gate.set()
        self.cond = threading.Condition()
        self.msgs = []  # (connection index, message)
        self.errors = []  # what the real supervisor would cut the connection for
        self.conns = []
        self.pending = {}  # token id -> set of holders
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen(16)
        self.closed = False
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()

    def env(self):
        return {"GRACEWATCH_SOCKET": self.path, "GRACEWATCH_NODE": self.node, "GRACEWATCH_SECRET": self.secret,
                "GRACEWATCH_SESSION": "test"}

    def close(self):
        self.closed = True
        for s in [self.srv] + self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _accept(self):
        while True:
            try:
                s, _ = self.srv.accept()
            except OSError:
                return
            idx = len(self.conns)
            self.conns.append(s)
            threading.Thread(target=self._serve, args=(idx, s), daemon=True).start()

    def _serve(self, idx, s):
        buf = b""
        first = True
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return
                buf += data
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    msg = self._check(raw)
                    if first:
                        first = False
                        if msg is None or msg.get("type") != "hello":
                            self._error("first message is not hello")
                        if self.answer == "refused":
                            s.sendall(b'{"type":"refused","reason":"bad secret for node \\"cam\\""}\n')
                            s.shutdown(socket.SHUT_RDWR)
                            s.close()
                            self._record(idx, msg)
                            return
                        self.welcome_gate.wait()
                        s.sendall(json.dumps({"type": "welcome", "session": "test", "node": self.node,
                                              "protocol": 1}).encode() + b"\n")
                    self._record(idx, msg)
                if len(buf) > 64 * 1024:
                    self._error("line over 64 KiB")
        except OSError:
            return

    def _error(self, what):
        with self.cond:
            self.errors.append(what)

    def _check(self, raw):
        if len(raw) > 64 * 1024:
            self._error("line over 64 KiB")
            return None
        try:
            msg = json.loads(raw.decode("utf-8"))
        except Exception as e:
            self._error("not JSON: %r (%s)" % (raw[:200], e))
            return None
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind not in REQUIRED:
            self._error("unknown type %r" % (kind,))
            return msg
        for field, typ in REQUIRED[kind].items():
            value = msg.get(field)
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                self._error("%s: field %s missing or not %s: %r" % (kind, field, typ.__name__, msg))
        if kind == "handler":
            if msg.get("signal") not in SIGNAL_NAMES:
                self._error("unknown signal %r" % msg.get("signal"))
            if msg.get("outcome") not in ("installed", "failed", "restored"):
                self._error("bad outcome %r" % msg.get("outcome"))
        with self.cond:
            if kind == "token_issued":
                if msg["id"] in self.pending:
                    self.errors.append("token %d issued while pending" % msg["id"])
                holders = set(msg["receivers"])
                if holders:
                    self.pending[msg["id"]] = holders
            elif kind == "token_released":
                holders = self.pending.get(msg["id"])
                if holders is None or msg["receiver"] not in holders:
                    self.errors.append("token_released %r: not held" % (msg,))
                else:
                    holders.discard(msg["receiver"])
                    if not holders:
                        del self.pending[msg["id"]]
        return msg

    def _record(self, idx, msg):
        with self.cond:
            self.msgs.append((idx, msg))
            self.cond.notify_all()

    # -- for the tests ----------------------------------------------------------------

    def of_type(self, kind):
        with self.cond:
            return [m for _, m in self.msgs if m is not None and m.get("type") == kind]

    def wait_for(self, pred, timeout=WAIT, what="message"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for _, m in self.msgs:
                    if m is not None and pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s within %.1f s; got %r" % (what, timeout, [m for _, m in self.msgs]))
                self.cond.wait(left)

    def wait_type(self, kind, timeout=WAIT):
        return self.wait_for(lambda m: m.get("type") == kind, timeout, kind)

    def wait_listening(self, timeout=WAIT):
        """The node listens for stop: said in its hello, or by listen_stop."""
        return self.wait_for(lambda m: m.get("type") == "listen_stop" or
                             (m.get("type") == "hello" and m.get("listens_stop")), timeout, "listening")

    def listening(self):
        return bool(self.of_type("listen_stop")) or any(h.get("listens_stop") for h in self.of_type("hello"))

    def send(self, msg, idx=0):
        self.conns[idx].sendall(json.dumps(msg).encode() + b"\n")

    def drop(self, idx=0):
        s = self.conns[idx]
        s.shutdown(socket.SHUT_RDWR)
        s.close()


class Node(object):
    """The node code as a real subprocess, with its stdout readable line by line."""

    def __init__(self, code, sup=None, args=None, forks=False, script=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRACEWATCH_")}
        env["PYTHONPATH"] = HERE
        if sup is not None:
            env.update(sup.env())
        flags = ["-X", "dev", "-W", "error"]
        if forks and sys.version_info < (3, 9):
            # 3.8's debug allocator reports a corrupt block when a child forked from a
            # threaded process exits normally, with or without this client: not ours to test.
            flags = ["-W", "error"]
        if forks:
            # Python 3.12+ warns about fork() in a multi-threaded process: that is the point.
            flags += ["-W", "ignore:This process:DeprecationWarning"]
        if script is not None:
            cmd = [sys.executable] + flags + [script] + list(args or [])
        else:
            cmd = [sys.executable] + flags + ["-c", PRELUDE + textwrap.dedent(code)] + list(args or [])
        self.p = subprocess.Popen(cmd, env=env, cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.lines = queue.Queue()
        self.out = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.p.stdout:
            self.lines.put(raw.decode().rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("node printed no %r within %.1f s (so far: %r)" % (prefix, timeout, self.out))
            if line is None:
                raise AssertionError("node ended without printing %r; printed %r; stderr %r"
                                     % (prefix, self.out, self.p.stderr.read().decode()))
            self.out.append(line)
            if line.startswith(prefix):
                return line

    def expect_all(self, *prefixes):
        """Waits until a line starting with each prefix was printed, in any order."""
        missing = [p for p in prefixes if not any(l.startswith(p) for l in self.out)]
        while missing:
            line = self.expect("")
            missing = [p for p in missing if not line.startswith(p)]

    def tell(self, text):
        self.p.stdin.write(text.encode() + b"\n")
        self.p.stdin.flush()

    def finish(self, timeout=WAIT):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("node did not exit; printed %r" % self.out)
        while True:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                break
            if line is None:
                break
            self.out.append(line)
        err = self.p.stderr.read().decode()
        self.p.stdin.close()
        self.p.stdout.close()
        self.p.stderr.close()
        return self.p.returncode, err


class Case(unittest.TestCase):
    def setUp(self):
        self.sups = []
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            if n.p.poll() is None:
                n.p.kill()
                n.p.wait()
            for f in (n.p.stdin, n.p.stdout, n.p.stderr):
                try:
                    f.close()
                except Exception:
                    pass
        for s in self.sups:
            errors = list(s.errors)
            s.close()
            self.assertEqual(errors, [], "the supervisor would have cut the connection")

    def sup(self, **kw):
        s = FakeSupervisor(**kw)
        self.sups.append(s)
        return s

    def node(self, code, sup=None, **kw):
        n = Node(code, sup, **kw)
        self.nodes.append(n)
        return n

    def assertCleanExit(self, node, timeout=WAIT):
        rc, err = node.finish(timeout)
        self.assertEqual((rc, err), (0, ""), "printed %r" % node.out)
        return node.out


# Prepended to every node's code.
PRELUDE = """
import time as _time
import gracewatch_node as _gw

def wait_connected():
    deadline = _time.monotonic() + 5
    while _gw.status() == "connecting" and _time.monotonic() < deadline:
        _time.sleep(0.005)
    return _gw.status()

def wait_threads(n=1):
    import threading
    deadline = _time.monotonic() + 5
    while threading.active_count() > n and _time.monotonic() < deadline:
        _time.sleep(0.005)
    return threading.active_count()
"""


class NotConnected(Case):
    def test_without_environment_nothing_happens(self):
        n = self.node("""
            import json, os, signal, threading, time
            import gracewatch_node as gw

            def native_threads():
                with open("/proc/self/status") as f:
                    return int([l for l in f if l.startswith("Threads:")][0].split()[1])

            def sockets():
                n = 0
                for fd in os.listdir("/proc/self/fd"):
                    try:
                        n += os.readlink("/proc/self/fd/" + fd).startswith("socket:")
                    except OSError:
                        pass
                return n

            ids = [gw.lend(["a", "b"]), gw.lend("a")]
            gw.returned(ids[0], "a")
            gw.returned(12345, "nobody")
            calls = []
            gw.on_stop(calls.append)
            gw.fail_fast_on_fork(True)
            ok = gw.install_handler(signal.SIGUSR1, lambda s, f: None, owner="t")
            worker = []
            t = threading.Thread(target=lambda: worker.append(gw.install_handler(signal.SIGUSR2, lambda s, f: None)))
            t.start(); t.join()
            # the stop event still works for signals outside gracewatch
            gw.stop_on_signals()
            os.kill(os.getpid(), signal.SIGTERM)
            gw.wait_for_stop(2)
            pid = os.fork()  # fail-fast does nothing outside gracewatch
            if pid == 0:
                os._exit(0)
            _, st = os.waitpid(pid, 0)
            print(json.dumps({
                "status": gw.status(), "ids": ids, "threads": threading.active_count(),
                "native": native_threads(), "sockets": sockets(), "installed": ok,
                "worker_installed": worker[0], "handler_set": callable(signal.getsignal(signal.SIGUSR1)),
                "stop": gw.stop_requested(), "reason": gw.stop_reason(), "calls": calls,
                "child_exit": os.WEXITSTATUS(st), "hooks": gw._fork_hooks,
            }))
        """, forks=True)
        out = json.loads(n.expect("{"))
        self.assertCleanExit(n)
        self.assertEqual(out, {
            "status": "off", "ids": [1, 2], "threads": 1, "native": 1, "sockets": 0, "installed": True,
            "worker_installed": False, "handler_set": True, "stop": True, "reason": "SIGTERM",
            "calls": ["SIGTERM"], "child_exit": 0, "hooks": False,
        })

    def test_partial_environment_is_absent(self):
        n = self.node("""
            import os, threading, gracewatch_node as gw
            os.environ["GRACEWATCH_SOCKET"] = "/nonexistent.sock"
            os.environ["GRACEWATCH_NODE"] = "cam"   # no secret
            gw.lend("x")
            print(gw.status(), threading.active_count())
        """)
        self.assertEqual(n.expect(""), "off 1")
        self.assertCleanExit(n)

    def test_supervisor_gone_is_harmless(self):
        n = self.node("""
            import os, time, threading, gracewatch_node as gw
            os.environ.update(GRACEWATCH_SOCKET="/nonexistent/gw.sock", GRACEWATCH_NODE="cam", GRACEWATCH_SECRET="s")
            gw.lend("x")
            t = time.monotonic() + 5
            while gw.status() == "connecting" and time.monotonic() < t:
                time.sleep(0.005)
            gw.lend("y"); gw.on_stop(print)
            print(gw.status(), wait_threads())
        """)
        self.assertEqual(n.expect(""), "closed 1")
        self.assertCleanExit(n)


class Connected(Case):
    def test_hello_carries_node_and_secret(self):
        s = self.sup()
        n = self.node("""
            import time, gracewatch_node as gw
            gw.lend("x")
            print(wait_connected())
        """, s)
        self.assertEqual(n.expect(""), "connected")
        self.assertCleanExit(n)
        hello = s.wait_type("hello")
        self.assertEqual(hello["node"], "cam")
        self.assertEqual(hello["secret"], s.secret)
        self.assertEqual(hello["pid"], n.p.pid)
        self.assertEqual(hello["language"], "python")
        self.assertEqual(hello["protocol"], 1)
        self.assertFalse(hello["listens_stop"])
        self.assertEqual(s.msgs[0][1]["type"], "hello")
        self.assertEqual(s.of_type("token_issued"), [{"type": "token_issued", "id": 1, "receivers": ["x"]}])

    def test_handler_from_worker_thread_fails_with_pythons_error(self):
        s = self.sup()
        n = self.node("""
            import signal, threading, gracewatch_node as gw
            results = []
            def library_import():
                results.append(gw.install_handler(signal.SIGTERM, lambda s, f: None, owner="torch.distributed"))
                try:
                    gw.install_handler(signal.SIGHUP, lambda s, f: None, owner="strict", raise_errors=True)
                except ValueError:
                    results.append("raised")
            t = threading.Thread(target=library_import, name="import-worker")
            t.start(); t.join()
            results.append(gw.install_handler(signal.SIGINT, lambda s, f: None, owner="app"))
            print(results)
        """, s)
        self.assertEqual(n.expect("["), "[False, 'raised', True]")
        self.assertCleanExit(n)
        s.wait_for(lambda m: m.get("type") == "handler" and m["signal"] == "SIGINT")
        by_signal = {m["signal"]: m for m in s.of_type("handler")}
        self.assertEqual(by_signal["SIGTERM"], {
            "type": "handler", "signal": "SIGTERM", "outcome": "failed", "owner": "torch.distributed",
            "thread": "import-worker", "main_thread": False,
            "error": "ValueError: " + SIGNAL_OFF_MAIN_THREAD,
        })
        self.assertEqual(by_signal["SIGHUP"]["outcome"], "failed")
        self.assertEqual(by_signal["SIGINT"], {
            "type": "handler", "signal": "SIGINT", "outcome": "installed", "owner": "app",
            "thread": "MainThread", "main_thread": True,
        })

    def test_deferring_framework_refusal_is_reported(self):
        s = self.sup()
        n = self.node("""
            import signal, gracewatch_node as gw

            class DeferringFramework(object):
                # Defers SIGINT while it runs and refuses anyone else's SIGINT handler.
                def __enter__(self):
                    self.original = signal.signal
                    signal.signal = self.guarded
                    return self
                def guarded(self, sig, handler):
                    if sig == signal.SIGINT:
                        raise RuntimeError("SIGINT is deferred by fakeframe; handlers cannot be installed while it runs")
                    return self.original(sig, handler)
                def __exit__(self, *exc):
                    signal.signal = self.original

            with DeferringFramework():
                a = gw.install_handler(signal.SIGINT, lambda s, f: None)
                b = gw.install_handler(signal.SIGTERM, lambda s, f: None, owner="lib")
            print(a, b)
        """, s)
        self.assertEqual(n.expect(""), "False True")
        self.assertCleanExit(n)
        m = s.wait_for(lambda m: m.get("type") == "handler" and m["signal"] == "SIGINT")
        self.assertEqual(m["outcome"], "failed")
        self.assertEqual(m["error"],
                         "RuntimeError: SIGINT is deferred by fakeframe; handlers cannot be installed while it runs")
        self.assertEqual(m["owner"], "__main__")  # the calling module by default
        self.assertTrue(m["main_thread"])
        t = s.wait_for(lambda m: m.get("type") == "handler" and m["signal"] == "SIGTERM")
        self.assertEqual((t["outcome"], t["owner"]), ("installed", "lib"))

    def test_restore_handler(self):
        s = self.sup()
        n = self.node("""
            import signal, gracewatch_node as gw
            gw.install_handler(signal.SIGUSR1, lambda s, f: None, owner="plugin")
            ok = gw.restore_handler(signal.SIGUSR1)
            print(ok, signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL, gw.restore_handler(signal.SIGUSR1))
        """, s)
        self.assertEqual(n.expect(""), "True True False")
        self.assertCleanExit(n)
        s.wait_for(lambda m: m.get("outcome") == "restored")
        self.assertEqual([(m["outcome"], m["owner"]) for m in s.of_type("handler")],
                         [("installed", "plugin"), ("restored", "plugin")])

    def test_stop_message_calls_back_once_and_is_acknowledged(self):
        s = self.sup()
        n = self.node("""
            import time, gracewatch_node as gw
            gw.on_stop(lambda reason: print("callback", reason, flush=True))
            print("ready", flush=True)
            got = gw.wait_for_stop(10)
            time.sleep(0.2)  # a second stop message must not call back again
            print("stopped", got, gw.stop_reason())
        """, s)
        n.expect("ready")
        # on_stop was the first call: the hello says it listens, and nothing repeats it
        self.assertTrue(s.wait_type("hello")["listens_stop"])
        s.send({"type": "stop", "reason": "operator", "signal_in_ms": 2000, "kill_in_ms": 10000})
        s.wait_type("stop_ack")
        self.assertEqual(s.of_type("listen_stop"), [])
        s.send({"type": "stop", "reason": "again", "signal_in_ms": 2000, "kill_in_ms": 10000})
        out = self.assertCleanExit(n)
        self.assertEqual(out, ["ready", "callback operator", "stopped True operator"])
        self.assertEqual(len(s.of_type("stop_ack")), 2)

    def test_a_failing_stop_callback_does_not_break_the_client(self):
        s = self.sup()
        n = self.node("""
            import time, gracewatch_node as gw
            def broken(reason):
                raise ValueError("callback bug")
            gw.on_stop(broken)
            gw.on_stop(lambda reason: print("second callback", reason, flush=True))
            print("ready", flush=True)
            while not gw.stop_requested():
                time.sleep(0.01)
            gw.lend("after")
        """, s)
        n.expect("ready")
        s.wait_listening()
        s.send({"type": "stop", "reason": "operator", "signal_in_ms": 2000, "kill_in_ms": 10000})
        rc, err = n.finish()
        self.assertEqual(rc, 0)
        self.assertIn("ValueError: callback bug", err)
        self.assertEqual(n.out, ["ready", "second callback operator"])
        s.wait_type("stop_ack")
        s.wait_type("token_issued")  # still connected after the callback raised

    def test_sigterm_through_stop_on_signals_fires_the_same_stop(self):
        s = self.sup()
        n = self.node("""
            import gracewatch_node as gw
            print("installed", gw.stop_on_signals(owner="app"), flush=True)
            gw.on_stop(lambda reason: print("callback", reason, flush=True))
            got = gw.wait_for_stop(10)
            print("stopped", got, gw.stop_reason())
        """, s)
        n.expect("installed True")
        s.wait_for(lambda m: m.get("type") == "handler" and m["signal"] == "SIGINT")
        n.p.send_signal(signal.SIGTERM)
        out = self.assertCleanExit(n)
        self.assertEqual(out, ["installed True", "callback SIGTERM", "stopped True SIGTERM"])
        self.assertEqual([(m["signal"], m["outcome"], m["main_thread"]) for m in s.of_type("handler")],
                         [("SIGTERM", "installed", True), ("SIGINT", "installed", True)])
        self.assertTrue(s.listening())
        self.assertEqual(s.of_type("stop_ack"), [])  # no stop message, nothing to acknowledge

    def test_tokens(self):
        s = self.sup()
        n = self.node("""
            import threading, gracewatch_node as gw
            a = gw.lend(["detector", "logger"])
            b = gw.lend("logger")
            gw.returned(a, "logger")
            gw.returned(b, "logger")
            gw.returned(a, "detector")
            gw.returned(a, "detector")  # twice: not reported (the supervisor would cut us)
            ids = []
            def many():
                for _ in range(500):
                    t = gw.lend(("r",))
                    ids.append(t)
                    gw.returned(t, "r")
            ts = [threading.Thread(target=many) for _ in range(4)]
            for t in ts: t.start()
            for t in ts: t.join()
            print(a, b, len(set(ids)))
        """, s)
        self.assertEqual(n.expect(""), "1 2 2000")
        rc, err = n.finish()
        self.assertEqual(rc, 0)
        self.assertIn("not reported", err)
        s.wait_for(lambda m: m.get("type") == "token_released" and m["id"] > 2 and len(s.pending) == 0 and
                   len(s.of_type("token_released")) == 2003, what="every release")
        tokens = [m for _, m in s.msgs if m["type"].startswith("token")][:5]
        self.assertEqual(tokens, [
            {"type": "token_issued", "id": 1, "receivers": ["detector", "logger"]},
            {"type": "token_issued", "id": 2, "receivers": ["logger"]},
            {"type": "token_released", "id": 1, "receiver": "logger"},
            {"type": "token_released", "id": 2, "receiver": "logger"},
            {"type": "token_released", "id": 1, "receiver": "detector"},
        ])
        self.assertEqual(s.of_type("dropped"), [])

    def test_full_queue_drops_and_counts(self):
        s = self.sup(hold_welcome=True)
        n = self.node("""
            import sys, time, gracewatch_node as gw
            gw.QUEUE_MAX = 10
            ids = [gw.lend("r") for _ in range(100)]   # the supervisor has not answered yet
            print("lent", flush=True)
            sys.stdin.readline()
            for i in ids:
                gw.returned(i, "r")
            print("returned", flush=True)
        """, s)
        n.expect("lent")  # while the welcome is still withheld: lending never waits for it
        s.welcome_gate.set()
        s.wait_for(lambda m: m.get("type") == "token_issued" and m["id"] == 10)
        n.tell("go")
        n.expect("returned")
        self.assertCleanExit(n)
        s.wait_for(lambda m: sum(d["count"] for d in s.of_type("dropped")) >= 180, what="dropped 180")
        self.assertEqual([m["id"] for m in s.of_type("token_issued")], list(range(1, 11)))
        self.assertEqual([m["id"] for m in s.of_type("token_released")], list(range(1, 11)))
        # 90 lends did not fit; their 90 releases are not sent either (that would be an error)
        self.assertEqual(sum(d["count"] for d in s.of_type("dropped")), 180)
        self.assertEqual(s.pending, {})

    def test_refused_hello_leaves_the_node_running(self):
        s = self.sup(answer="refused")
        n = self.node("""
            import signal, threading, time, gracewatch_node as gw
            gw.lend("x")
            print(wait_connected(), flush=True)
            gw.on_stop(print)
            print(gw.install_handler(signal.SIGUSR1, lambda s, f: None))
            tid = gw.lend("y"); gw.returned(tid, "y")
            print("alive", wait_threads())
        """, s)
        self.assertEqual(n.expect(""), "refused")
        out = self.assertCleanExit(n)
        self.assertEqual(out, ["refused", "True", "alive 1"])
        self.assertEqual([m["type"] for _, m in s.msgs], ["hello"])

    def test_lost_connection_turns_calls_into_no_ops(self):
        s = self.sup()
        n = self.node("""
            import sys, threading, time, gracewatch_node as gw
            gw.lend("x")
            print(wait_connected(), flush=True)
            sys.stdin.readline()
            t = time.monotonic() + 5
            while gw.status() == "connected" and time.monotonic() < t:
                gw.returned(gw.lend("y"), "y")
                time.sleep(0.001)
            for _ in range(1000):
                gw.returned(gw.lend("y"), "y")
            print(gw.status(), wait_threads())
        """, s)
        n.expect("connected")
        s.wait_type("token_issued")
        s.drop(0)
        n.tell("go")
        self.assertEqual(n.expect("closed"), "closed 1")
        self.assertCleanExit(n)


class Forks(Case):
    def test_fork_without_exec_from_a_threaded_process_is_reported(self):
        s = self.sup()
        n = self.node("""
            import json, os, sys, threading, time, gracewatch_node as gw
            gw.lend("x")
            wait_connected()
            gate = threading.Event()
            threading.Thread(target=gate.wait, name="worker", daemon=True).start()
            pid = os.fork()
            if pid == 0:
                print("child", gw.status(), flush=True)
                gw.lend("from-child")   # not reported: the child dropped its parent's client
                sys.exit(0)             # a normal exit: atexit runs in the child too
            _, st = os.waitpid(pid, 0)
            gw.lend("after-fork")       # the parent's connection is unaffected
            print(json.dumps({"child": pid, "exit": os.WEXITSTATUS(st), "status": gw.status()}))
        """, s, forks=True)
        self.assertEqual(n.expect("child"), "child forked")
        out = json.loads(n.expect("{"))
        self.assertCleanExit(n)
        self.assertEqual(out["exit"], 0)
        self.assertEqual(out["status"], "connected")
        fork = s.wait_type("fork")
        self.assertEqual(fork["parent_pid"], n.p.pid)
        self.assertEqual(fork["child_pid"], out["child"])
        self.assertGreater(fork["threads"], 1)
        self.assertEqual(fork["client_threads"], 2)
        self.assertEqual(len(set(fork["client_tids"])), 2)
        self.assertNotIn(n.p.pid, fork["client_tids"])  # not the main thread
        self.assertGreaterEqual(fork["threads"] - fork["client_threads"], 2)  # main + worker
        self.assertFalse(fork["runtime"])
        s.wait_for(lambda m: m.get("receivers") == ["after-fork"])
        self.assertEqual([m["receivers"] for m in s.of_type("token_issued")], [["x"], ["after-fork"]])

    def test_fork_inside_asyncio_reports_the_runtime(self):
        s = self.sup()
        n = self.node("""
            import asyncio, os, time, gracewatch_node as gw
            gw.lend("x")
            wait_connected()
            async def main():
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                os.waitpid(pid, 0)
                return pid
            print(asyncio.run(main()))
        """, s, forks=True)
        child = int(n.expect(""))
        self.assertCleanExit(n)
        fork = s.wait_type("fork")
        self.assertEqual(fork["child_pid"], child)
        self.assertTrue(fork["runtime"])

    def test_fail_fast_in_a_child_of_a_threaded_process(self):
        s = self.sup()
        n = self.node("""
            import os, threading, time, gracewatch_node as gw
            gw.fail_fast_on_fork(True)
            wait_connected()
            gate = threading.Event()
            threading.Thread(target=gate.wait, daemon=True).start()
            pid = os.fork()
            if pid == 0:
                print("the child ran on", flush=True)
                os._exit(0)
            _, st = os.waitpid(pid, 0)
            print("child exit", os.WEXITSTATUS(st))
        """, s, forks=True)
        self.assertEqual(n.expect("child exit"), "child exit 70")
        rc, err = n.finish()
        self.assertEqual(rc, 0)
        self.assertNotIn("the child ran on", n.out)
        self.assertRegex(err, r"^gracewatch_node: refusing to run in a child forked without exec from a process "
                              r"with \d+ threads: use subprocess/multiprocessing 'spawn' or exec instead\n$")
        fork = s.wait_type("fork")  # reported before the child exits
        self.assertGreaterEqual(fork["threads"], 4)

    def test_fail_fast_spares_a_child_of_a_single_threaded_program(self):
        s = self.sup()
        n = self.node("""
            import os, time, gracewatch_node as gw
            gw.fail_fast_on_fork(True)
            wait_connected()   # only the client's own threads run besides the main thread
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            _, st = os.waitpid(pid, 0)
            print("child exit", os.WEXITSTATUS(st))
        """, s, forks=True)
        self.assertEqual(n.expect("child exit"), "child exit 0")
        self.assertCleanExit(n)
        fork = s.wait_type("fork")
        self.assertEqual(fork["threads"] - fork["client_threads"], 1)


def caught_signals(pid):
    """The signal numbers the kernel shows as caught (SigCgt) for pid."""
    with open("/proc/%d/status" % pid) as f:
        mask = int([l for l in f if l.startswith("SigCgt:")][0].split()[1], 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


class Demos(Case):
    """Each demo node against the fake supervisor, stopped the way gracewatch stops it:
    the stop message (if it listens), the stop signal after signal_in, SIGKILL at kill_in."""

    def demo(self, name, sup):
        return self.node(None, sup, script=os.path.join(DEMO, name))

    def stop_like_gracewatch(self, n, sup, signal_in, kill_in):
        """Returns how it ended: 'exited' (before any signal), 'signal' or 'killed'."""
        listens = sup.listening()
        t0 = time.monotonic()
        if listens:
            sup.send({"type": "stop", "reason": "operator", "signal_in_ms": int(signal_in * 1000),
                      "kill_in_ms": int(kill_in * 1000)})
        try:
            n.p.wait(max(0.0, t0 + signal_in - time.monotonic()))
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        n.p.send_signal(signal.SIGTERM)
        try:
            n.p.wait(max(0.0, t0 + kill_in - time.monotonic()))
            return "signal"
        except subprocess.TimeoutExpired:
            pass
        n.p.kill()
        n.p.wait()
        return "killed"

    def failed_claims(self, sup):
        return {(m["owner"], m["signal"]): m for m in sup.of_type("handler") if m["outcome"] == "failed"}

    def test_well_behaved(self):
        s = self.sup()
        n = self.demo("well_behaved.py", s)
        n.expect("well_behaved:")
        s.wait_for(lambda m: m.get("type") == "token_released", what="a frame given back")
        self.assertEqual(self.failed_claims(s), {})
        self.assertEqual({(m["signal"], m["main_thread"]) for m in s.of_type("handler")},
                         {("SIGTERM", True), ("SIGINT", True)})
        self.assertTrue({signal.SIGTERM, signal.SIGINT} <= caught_signals(n.p.pid))
        # "exited": it was gone before the signal would have been due.
        self.assertEqual(self.stop_like_gracewatch(n, s, 2.0, 5.0), "exited")
        out = self.assertCleanExit(n)
        self.assertIn("stop (operator)", out[-1])
        s.wait_type("stop_ack")
        self.assertEqual(s.pending, {})

    def test_import_time_handlers(self):
        s = self.sup()
        n = self.demo("import_time_handlers.py", s)
        n.expect("import_time_handlers:")
        s.wait_listening()
        s.wait_for(lambda m: m.get("owner") == "app", what="the app's SIGINT claim")
        failed = self.failed_claims(s)
        lib = failed[("fastmetrics", "SIGTERM")]
        self.assertEqual(lib["error"], "ValueError: " + SIGNAL_OFF_MAIN_THREAD)
        self.assertEqual((lib["thread"], lib["main_thread"]), ("fastmetrics-init", False))
        app = failed[("app", "SIGINT")]
        self.assertEqual(app["error"],
                         "RuntimeError: SIGINT is deferred by deferloop; handlers cannot be installed while it runs")
        self.assertTrue(app["main_thread"])
        self.assertNotIn(signal.SIGTERM, caught_signals(n.p.pid))
        self.assertEqual(self.stop_like_gracewatch(n, s, 2.0, 5.0), "exited")
        out = self.assertCleanExit(n)
        self.assertTrue(any(l.startswith("app: cleanup done") for l in out), out)
        self.assertIn("app: stop requested (operator)", out)
        s.wait_type("stop_ack")

    def test_no_signal_runtime(self):
        s = self.sup()
        n = self.demo("no_signal_runtime.py", s)
        n.expect("app: no signal handler")
        s.wait_listening()
        s.wait_for(lambda m: m.get("type") == "handler" and m["signal"] == "SIGINT", what="the SIGINT claim")
        failed = self.failed_claims(s)
        self.assertEqual(set(failed), {("app", "SIGTERM"), ("app", "SIGINT")})
        self.assertTrue(all(m["thread"] == "host-worker-1" and not m["main_thread"] for m in failed.values()))
        caught = caught_signals(n.p.pid)
        self.assertNotIn(signal.SIGTERM, caught)
        self.assertNotIn(signal.SIGINT, caught)
        self.assertEqual(self.stop_like_gracewatch(n, s, 2.0, 5.0), "exited")  # before any signal
        out = self.assertCleanExit(n)
        self.assertIn("exiting before any signal", out[-1])
        s.wait_type("stop_ack")

    def test_main_thread_only_dies_on_sigterm_without_cleanup(self):
        s = self.sup()
        n = self.demo("main_thread_only.py", s)
        n.expect_all("servicekit: SIGTERM handler not installed", "main_thread_only:")
        claim = s.wait_for(lambda m: m.get("type") == "handler", what="servicekit's claim")
        self.assertEqual((claim["owner"], claim["signal"], claim["outcome"], claim["main_thread"]),
                         ("servicekit", "SIGTERM", "failed", False))
        caught = caught_signals(n.p.pid)
        self.assertNotIn(signal.SIGTERM, caught)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self.assertIn(signal.SIGINT, caught)
        self.assertEqual(s.of_type("listen_stop"), [])
        self.assertFalse(s.of_type("hello")[0]["listens_stop"])
        self.assertEqual(self.stop_like_gracewatch(n, s, 0.0, 5.0), "signal")
        rc, err = n.finish()
        self.assertEqual(rc, -signal.SIGTERM)
        self.assertNotIn("cleanup done", n.out)

    @unittest.skipIf(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, "SIGINT is ignored here, and so in the node")
    def test_main_thread_only_cleans_up_on_sigint(self):
        s = self.sup()
        n = self.demo("main_thread_only.py", s)
        # the second is printed by the main thread once it waits
        n.expect_all("servicekit: SIGTERM handler not installed", "main_thread_only:")
        n.p.send_signal(signal.SIGINT)
        out = self.assertCleanExit(n)
        self.assertEqual(out[-1], "cleanup done")

    def test_slow_receiver_stalls_until_the_kill(self):
        s = self.sup()
        n = self.demo("slow_receiver.py", s)
        n.expect("slow_receiver:")
        s.wait_for(lambda m: m.get("type") == "token_issued" and m["id"] >= 15, what="15 frames")
        self.assertTrue(s.listening())
        self.assertIn(signal.SIGTERM, caught_signals(n.p.pid))
        before = len([m for m in s.of_type("token_released") if m["receiver"] == "detector"])
        self.assertEqual(self.stop_like_gracewatch(n, s, 0.3, 2.0), "killed")
        n.finish()
        self.assertTrue(s.of_type("stop_ack"))
        self.assertTrue(any("waiting for" in l for l in n.out))
        with s.cond:
            holders = sorted({h for hs in s.pending.values() for h in hs})
            still = len(s.pending)
        self.assertGreater(still, 5)
        self.assertEqual(holders, ["detector"])
        after = len([m for m in s.of_type("token_released") if m["receiver"] == "detector"])
        self.assertGreaterEqual(after - before, 2, "the detector kept returning frames during the stop")


class Source(unittest.TestCase):
    def test_parses_as_python_3_8(self):
        files = [os.path.join(HERE, "gracewatch_node.py")]
        if os.path.isdir(DEMO):
            files += [os.path.join(DEMO, f) for f in sorted(os.listdir(DEMO)) if f.endswith(".py")]
        for path in files:
            with open(path) as f:
                ast.parse(f.read(), path, feature_version=(3, 8))


if __name__ == "__main__":
    unittest.main()
