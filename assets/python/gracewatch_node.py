"""gracewatch_node: tell gracewatch how this process will stop.

One file, standard library only, Python 3.8+. It reports who installed which signal
handler (and which attempts failed, with the exact error), which buffers ("drop tokens")
this process lent to which receivers, when it forked without exec, and it lets gracewatch
stop the process with a message on its socket before any signal (the cooperative stop).

Outside gracewatch (GRACEWATCH_SOCKET, GRACEWATCH_NODE or GRACEWATCH_SECRET absent) it does
nothing at all: no socket, no thread; every call is a cheap no-op, except that
install_handler / restore_handler / stop_on_signals still install the handlers (they are
real helpers) and the stop event still works for signals. Nothing in here raises into
your code (except install_handler(..., raise_errors=True)), and a lost connection only
turns the client into a no-op.

Example::

    import time
    import gracewatch_node as gw

    gw.stop_on_signals()                  # SIGTERM + SIGINT feed the stop event (reported)
    gw.on_stop(lambda reason: print("stopping:", reason, flush=True))
    while not gw.stop_requested():        # or: gw.wait_for_stop(timeout)
        tid = gw.lend(["detector", "logger"])   # a buffer lent to two receivers
        ...
        gw.returned(tid, "logger")              # each receiver gives it back
        gw.returned(tid, "detector")
        time.sleep(0.1)

API (module-level functions):

- ``install_handler(sig, handler, owner=None, raise_errors=False) -> bool``:
  ``signal.signal(sig, handler)``, reported as installed or failed with the exception's
  text ("ValueError: signal only works in main thread of the main interpreter"), the
  thread's name and whether it is the main thread. ``owner`` defaults to the calling
  module's name. Returns False on failure (raises it if ``raise_errors``).
- ``restore_handler(sig, owner=None, raise_errors=False) -> bool``: puts back the handler
  that was there before the last install_handler for ``sig``; reported as restored.
- ``on_stop(fn)``: ``fn(reason)`` is called once when the node is asked to stop: by the
  stop message (from the client's reader thread, after the client acknowledged it) or by a
  signal handled through stop_on_signals (in the main thread, as a signal handler).
  Registering after the stop already happened calls ``fn`` at once.
- ``stop_requested() -> bool``, ``wait_for_stop(timeout=None) -> bool``,
  ``stop_reason() -> str or None`` ("operator", "SIGTERM", ...).
- ``stop_on_signals(sigs=(SIGTERM, SIGINT), owner=None) -> bool``: installs handlers
  (through install_handler, so failures are reported) that trigger the same stop.
  on_stop, stop_on_signals, stop_requested and wait_for_stop tell gracewatch the node
  listens for the stop message (``listen_stop``, once); the client answers each stop
  message with ``stop_ack`` before calling back.
- ``lend(receivers) -> int`` and ``returned(token_id, receiver)``: a buffer lent to
  receivers (a name or a list of names) and given back by one of them. Ids are unique in
  the process. A return the supervisor would reject (a receiver that does not hold the
  token, a second return) is not sent, and one warning line goes to stderr.
- ``fail_fast_on_fork(enabled=True)``: a child forked without exec from a process with
  other threads than the client's own prints one line on stderr and exits with status 70
  (under gracewatch only, like everything else).
- ``status() -> str``: "off" (not under gracewatch), "connecting", "connected",
  "refused", "closed" or "forked" (a forked child drops its parent's connection).

Under gracewatch the first call (importing does nothing) starts a background thread that
connects and says hello; messages go through a bounded queue (QUEUE_MAX) drained by that
thread, so calls never block; when the queue is full messages are dropped and their count
is sent as ``dropped`` (a return whose lend was dropped is dropped and counted too, so that
the supervisor never sees a return of a token it does not know). What is still queued when
the interpreter exits is flushed for up to FLUSH_AT_EXIT seconds. A second thread reads
``stop`` messages. Forks are reported by the child, directly on the inherited socket, from
an ``os.register_at_fork`` hook; the ``fork`` message carries ``client_threads`` (this
client's own threads, included in ``threads``) besides the protocol's fields.
"""

import atexit
import collections
import itertools
import json
import os
import signal
import socket
import sys
import threading
import time

__all__ = [
    "install_handler",
    "restore_handler",
    "on_stop",
    "stop_requested",
    "wait_for_stop",
    "stop_reason",
    "stop_on_signals",
    "lend",
    "returned",
    "fail_fast_on_fork",
    "status",
]

__version__ = "0.1.0"
PROTOCOL = 1
MAX_LINE = 64 * 1024
# Tunables, read when the client starts (set them before the first call).
QUEUE_MAX = 10000
HANDSHAKE_TIMEOUT = 5.0
FLUSH_AT_EXIT = 0.5

_BATCH = 16 * 1024  # bytes per write: small enough that one write is one atomic chunk
_ERROR_MAX = 4096
_NAME_MAX = 256
_FAIL_FAST_STATUS = 70

# Linux signal names as gracewatch spells them (realtime signals are SIG<n>).
_SIGNAL_NAMES = (
    None, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
    "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
)


def _signame(sig):
    """'SIGTERM' for 15, 'SIG34' for a realtime signal, None for what is not a signal."""
    try:
        n = int(sig)
    except Exception:
        return None
    if 0 < n < len(_SIGNAL_NAMES):
        return _SIGNAL_NAMES[n]
    if n < 1 or n > 64:
        return None
    return "SIG%d" % n


def _clip(text, limit):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _caller_module(depth):
    try:
        return str(sys._getframe(depth).f_globals.get("__name__") or "?")
    except Exception:
        return "?"


def _stderr(line):
    try:
        os.write(2, ("gracewatch_node: %s\n" % line).encode("utf-8", "replace"))
    except Exception:
        pass


# ---------------------------------------------------------------------------------------
# The stop: an event fed by the stop message and by signals, safe to set from a handler.


class _StopEvent(object):
    """Like threading.Event, but `set` may run in a signal handler that interrupted a
    `wait` of the same thread (threading.Event can deadlock there): the handler never waits
    more than 50 ms for the lock, and waiters re-check the flag every 250 ms."""

    def __init__(self, flag=False):
        self._flag = flag
        self._cond = threading.Condition(threading.Lock())

    def is_set(self):
        return self._flag

    def set(self, from_handler=False):
        self._flag = True
        if self._cond.acquire(True, 0.05 if from_handler else -1):
            try:
                self._cond.notify_all()
            finally:
                self._cond.release()

    def wait(self, timeout=None):
        if self._flag:
            return True
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._cond:
            while not self._flag:
                if deadline is None:
                    step = 0.25
                else:
                    step = min(deadline - time.monotonic(), 0.25)
                    if step <= 0:
                        break
                self._cond.wait(step)
            return self._flag


class _Stop(object):
    def __init__(self):
        self.event = _StopEvent()
        self.reason = None
        self.listening = False
        self._once = itertools.count()  # next() is atomic: the first caller gets 0
        self._listen_once = itertools.count()
        self._pending = collections.deque()  # callbacks not yet called; popleft is atomic

    def fire(self, reason, from_handler=False):
        if next(self._once):
            return False
        self.reason = reason
        self.event.set(from_handler)
        self._run_callbacks()
        return True

    def add(self, fn):
        self._pending.append(fn)
        if self.event.is_set():
            self._run_callbacks()

    def _run_callbacks(self):
        while True:
            try:
                fn = self._pending.popleft()
            except IndexError:
                return
            try:
                fn(self.reason)
            except SystemExit:
                if threading.current_thread() is threading.main_thread():
                    raise  # from a stop_on_signals handler: exits as asked
                _stderr("a stop callback called sys.exit() on the client's reader thread: that ends "
                        "only that thread; set a flag or an event for the main thread instead")
            except Exception:
                try:
                    import traceback

                    sys.stderr.write("gracewatch_node: a stop callback raised:\n")
                    traceback.print_exc()
                except Exception:
                    pass

    def listen(self):
        """Marks the node as listening; True the first time."""
        self.listening = True
        return next(self._listen_once) == 0

    def copy_for_child(self):
        """Fresh locks for a forked child (a parent thread may have held the old ones)."""
        s = _Stop()
        s.event = _StopEvent(self.event.is_set())
        s.reason = self.reason
        s.listening = self.listening
        if self.event.is_set():
            next(s._once)
        if self.listening:
            next(s._listen_once)
        s._pending = collections.deque(list(self._pending))
        return s


# ---------------------------------------------------------------------------------------
# The connection.

_ISSUED = 1
_RELEASED = 2


class _Conn(object):
    def __init__(self, path, node, secret):
        self.path = path
        self.node = node
        self.secret = secret
        self.state = "connecting"
        self.refused_reason = None
        self.session = None
        self.sock = None
        self.q = collections.deque()
        self.maxlen = max(1, int(QUEUE_MAX))
        self.wake = threading.Event()
        self.send_lock = threading.Lock()
        self.drop_lock = threading.Lock()
        self.dropped = 0  # not yet reported
        self.dropped_total = 0
        self.lost_tokens = set()  # ids whose token_issued was dropped
        self.pending = {}  # token id -> receivers still holding it (as sent)
        self.sending = False
        self.warned_misuse = False
        self.names = {}  # receiver -> (name as sent, JSON-quoted)
        self.hello_listens = False
        self.reader = None
        self.sender = threading.Thread(target=self._run_sender, name="gracewatch-sender")
        self.sender.daemon = True
        self.push = self._make_push()

    def start(self):
        self.sender.start()

    @property
    def alive(self):
        return self.state in ("connecting", "connected")

    def _make_push(self):
        q = self.q
        append = q.append
        maxlen = self.maxlen
        event = self.wake
        wake = event.set
        drop = self._drop

        if not isinstance(getattr(event, "_flag", None), bool):
            is_set = event.is_set

            def push(item):
                if len(q) < maxlen:
                    append(item)
                    if not is_set():
                        wake()
                else:
                    drop(item)

            return push

        def push(item):
            if len(q) < maxlen:
                append(item)
                if not event._flag:  # Event.is_set() without the method call: hot path
                    wake()
            else:
                drop(item)

        return push

    def _drop(self, item):
        if not self.alive:
            return
        with self.drop_lock:
            self.dropped += 1
            self.dropped_total += 1
            if type(item) is tuple and item[0] == _ISSUED:
                self.lost_tokens.add(item[1])

    # -- lifecycle ----------------------------------------------------------------------

    def die(self, state, reason=None):
        """Stops reporting for good; the threads end and the sender closes the socket."""
        global _push
        if not self.alive:
            return
        self.state = state
        if reason is not None:
            self.refused_reason = reason
        if _conn is self:
            _push = _noop
        self.q.clear()
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except Exception:
                pass
        self.wake.set()

    def _run_sender(self):
        try:
            if self._handshake():
                reader = threading.Thread(target=self._run_reader, name="gracewatch-reader")
                reader.daemon = True
                self.reader = reader  # before start: a fork meanwhile counts it as ours
                try:
                    reader.start()
                except RuntimeError:
                    # Python 3.12+ refuses new threads once the interpreter is exiting (a
                    # short-lived node): nothing left to read, the queue still gets flushed.
                    self.reader = None
                if self.alive:
                    self.state = "connected"
                self._drain_forever()
        except BaseException:
            pass
        self.die("closed")
        try:
            if self.reader is not None:
                self.reader.join()
        except BaseException:
            pass
        try:
            if self.sock is not None:
                self.sock.close()
        except BaseException:
            pass

    def _handshake(self):
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except Exception:
            self.die("closed", "cannot create a socket")
            return False
        self.sock = sock
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT)
            sock.connect(self.path)
            hello = {
                "type": "hello",
                "node": self.node,
                "secret": self.secret,
                "pid": os.getpid(),
                "language": "python",
                "client_version": __version__,
                "protocol": PROTOCOL,
                "listens_stop": _stop.listening,
            }
            self.hello_listens = hello["listens_stop"]
            sock.sendall(_line(hello), _SEND_FLAGS)
            buf = b""
            while b"\n" not in buf:
                data = sock.recv(4096)
                if not data:
                    self.die("refused", "connection closed before welcome")
                    return False
                buf += data
                if len(buf) > MAX_LINE + 1:
                    self.die("refused", "answer to hello too long")
                    return False
            first, rest = buf.split(b"\n", 1)
            msg = json.loads(first.decode("utf-8"))
            if not isinstance(msg, dict) or msg.get("type") != "welcome":
                reason = msg.get("reason") if isinstance(msg, dict) else None
                self.die("refused", str(reason or "no welcome"))
                return False
            self.session = msg.get("session")
            sock.settimeout(None)
            self._early = rest
            return self.alive
        except Exception as e:
            self.die("closed", "%s: %s" % (type(e).__name__, e))
            return False

    def _drain_forever(self):
        q = self.q
        sock = self.sock
        wake = self.wake
        while self.alive:
            while self.alive and (q or self.dropped):
                self.sending = True
                parts = []
                size = 0
                while q and size < _BATCH:
                    line = self._encode(q.popleft())
                    if line is not None:
                        parts.append(line)
                        size += len(line)
                if self.dropped:
                    with self.drop_lock:
                        count, self.dropped = self.dropped, 0
                    parts.append('{"type":"dropped","count":%d}\n' % count)
                if parts:
                    data = "".join(parts).encode("ascii")
                    with self.send_lock:
                        sock.sendall(data, _SEND_FLAGS)
            self.sending = False
            # The flag stays set while this thread drains, so that callers need not wake it
            # (Event.set costs a lock); it is cleared only to sleep, and the queue checked
            # once more after clearing, so a message pushed in between is not left behind.
            wake.clear()
            if q or self.dropped or not self.alive:
                continue
            wake.wait()

    def _encode(self, item):
        """One message as a line (str, ASCII), or None when it must not be sent."""
        try:
            if type(item) is not tuple:
                if self.hello_listens and item.get("type") == "listen_stop":
                    return None  # the hello said so already
                line = _ENCODER.encode(item) + "\n"
            else:
                kind, tid = item[0], item[1]
                if type(tid) is not int or tid < 0 or tid >= 1 << 64:
                    self._misuse("token id %r is not an id from lend()" % (tid,))
                    return None
                if kind == _ISSUED:
                    if tid in self.pending:
                        self._misuse("token %d lent twice" % tid)
                        return None
                    receivers = item[2]
                    if len(receivers) == 1:
                        name, quoted = self._name(receivers[0])
                        self.pending[tid] = {name}
                    else:
                        names = []
                        quoted = []
                        for r in receivers:
                            name, q = self._name(r)
                            if name not in names:
                                names.append(name)
                                quoted.append(q)
                        if names:
                            self.pending[tid] = set(names)
                        quoted = ",".join(quoted)
                    line = '{"type":"token_issued","id":%d,"receivers":[%s]}\n' % (tid, quoted)
                else:
                    name, quoted = self._name(item[2])
                    holders = self.pending.get(tid)
                    if holders is None or name not in holders:
                        if tid in self.lost_tokens:
                            # Its token_issued was dropped: this release is dropped too.
                            with self.drop_lock:
                                self.dropped += 1
                                self.dropped_total += 1
                        else:
                            self._misuse("returned(%d, %r): that receiver does not hold it" % (tid, name))
                        return None
                    holders.discard(name)
                    if not holders:
                        del self.pending[tid]
                    line = '{"type":"token_released","id":%d,"receiver":%s}\n' % (tid, quoted)
        except Exception:
            return None
        if len(line) > MAX_LINE + 1:
            with self.drop_lock:
                self.dropped += 1
                self.dropped_total += 1
            return None
        return line

    def _name(self, r):
        """A receiver's name as sent, and quoted for JSON (cached: names repeat)."""
        if r.__class__ is not str:
            r = str(r)
        known = self.names.get(r)
        if known is None:
            name = _clip(r, _NAME_MAX)
            known = (name, _quote(name))
            if len(self.names) >= 4096:
                self.names.clear()
            self.names[r] = known
        return known

    def _misuse(self, what):
        if not self.warned_misuse:
            self.warned_misuse = True
            _stderr("not reported (and further such calls are not either): %s" % what)

    def _run_reader(self):
        buf = getattr(self, "_early", b"")
        sock = self.sock
        try:
            while self.alive:
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self._handle(line)
                if len(buf) > MAX_LINE:
                    break
                data = sock.recv(65536)
                if not data:
                    break
                buf += data
        except BaseException:
            pass
        self.die("closed")

    def _handle(self, line):
        try:
            msg = json.loads(line.decode("utf-8"))
        except Exception:
            return
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        if kind == "stop":
            stop = _stop
            if stop.listening:
                self.send_now(_line({"type": "stop_ack"}))
            stop.fire(str(msg.get("reason") or "stop"))
        elif kind == "refused":
            self.die("refused", str(msg.get("reason") or "refused"))

    def send_now(self, line):
        """Sends one line from this thread, ahead of the queue (used for stop_ack)."""
        try:
            with self.send_lock:
                self.sock.sendall(line, _SEND_FLAGS)
        except Exception:
            self.die("closed")

    def flush(self, timeout):
        deadline = time.monotonic() + timeout
        while self.alive and (self.q or self.sending or self.state == "connecting"):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True


_SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0)


# ensure_ascii (the default): every line is ASCII, so its length in bytes is len(str).
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_quote = json.encoder.encode_basestring_ascii


def _line(msg):
    return (_ENCODER.encode(msg) + "\n").encode("ascii")


# ---------------------------------------------------------------------------------------
# Module state: created lazily, on the first call.

_stop = _Stop()
_ids = itertools.count(1)
_init_lock = threading.Lock()
_conn = None
_state = None  # None until the first call, then "off" or the connection's
_fail_fast = False
_fork_hooks = False
# Set by the before-fork hook: (parent pid, threads, client threads, runtime, send lock
# held, threads after settling).
_fork_info = None
_previous = {}  # signal number -> [(previous handler, owner)]


def _noop(item):
    pass


def _first_push(item):
    _start()
    _push(item)


_push = _first_push


def _start():
    """Creates the client on the first call: connects under gracewatch, nothing otherwise."""
    global _conn, _state, _push, _fork_hooks
    if _state is not None:
        return
    with _init_lock:
        if _state is not None:
            return
        path = os.environ.get("GRACEWATCH_SOCKET")
        node = os.environ.get("GRACEWATCH_NODE")
        secret = os.environ.get("GRACEWATCH_SECRET")
        if not (path and node and secret):
            _push = _noop
            _state = "off"
            return
        try:
            conn = _Conn(path, node, secret)
            _conn = conn
            _push = conn.push
            _state = "client"
            if not _fork_hooks:
                os.register_at_fork(
                    before=_before_fork, after_in_parent=_after_fork_parent, after_in_child=_after_fork_child
                )
                _fork_hooks = True
            atexit.register(_at_exit)
            conn.start()
        except Exception:
            _conn = None
            _push = _noop
            _state = "off"


def status():
    """'off', 'connecting', 'connected', 'refused', 'closed' or 'forked'."""
    _start()
    if _state == "client":
        c = _conn
        return c.state if c is not None else "closed"
    return _state


def _at_exit():
    c = _conn
    if c is None or not c.alive:
        return
    try:
        c.flush(FLUSH_AT_EXIT)
        c.die("closed")
        c.sender.join(0.2)
    except BaseException:
        pass


# ---------------------------------------------------------------------------------------
# Signal handlers.


def _report_handler(sig, outcome, owner, error=None):
    name = _signame(sig)
    if name is None:
        return
    t = threading.current_thread()
    msg = {
        "type": "handler",
        "signal": name,
        "outcome": outcome,
        "owner": _clip(owner, _NAME_MAX),
        "thread": _clip(t.name, _NAME_MAX),
        "main_thread": t is threading.main_thread(),
    }
    if error is not None:
        msg["error"] = _clip(error, _ERROR_MAX)
    _push(msg)


def install_handler(sig, handler, owner=None, raise_errors=False):
    """signal.signal(sig, handler), reported to gracewatch. Returns True when installed;
    on failure reports the exception's exact text and returns False (or raises it)."""
    if owner is None:
        owner = _caller_module(2)
    try:
        previous = signal.signal(sig, handler)  # looked up now: a framework may wrap it
    except Exception as e:
        _report_handler(sig, "failed", owner, "%s: %s" % (type(e).__name__, e))
        if raise_errors:
            raise
        return False
    try:
        _previous.setdefault(int(sig), []).append((previous, owner))
    except Exception:
        pass
    _report_handler(sig, "installed", owner)
    return True


def restore_handler(sig, owner=None, raise_errors=False):
    """Puts back the handler that was installed before the last install_handler(sig)."""
    try:
        stack = _previous.get(int(sig))
    except Exception:
        stack = None
    if not stack:
        return False
    previous, installed_by = stack[-1]
    if owner is None:
        owner = installed_by
    try:
        signal.signal(sig, previous)
    except Exception as e:
        _report_handler(sig, "failed", owner, "%s: %s" % (type(e).__name__, e))
        if raise_errors:
            raise
        return False
    stack.pop()
    _report_handler(sig, "restored", owner)
    return True


# ---------------------------------------------------------------------------------------
# The cooperative stop.


def _listen():
    if _stop.listen():
        _push({"type": "listen_stop"})


def on_stop(fn):
    """fn(reason) is called once when the node is asked to stop (message or signal)."""
    _listen()
    _stop.add(fn)


def stop_requested():
    """True once a stop message or a stop_on_signals signal arrived."""
    if not _stop.listening:
        _listen()
    return _stop.event.is_set()


def wait_for_stop(timeout=None):
    """Waits for the stop; True if it came, False on timeout."""
    if not _stop.listening:
        _listen()
    return _stop.event.wait(timeout)


def stop_reason():
    """Why the node is stopping ('operator', 'SIGTERM', ...), or None."""
    return _stop.reason


def _stop_signal_handler(signum, frame):
    _stop.fire(_signame(signum) or str(signum), True)


def stop_on_signals(sigs=(signal.SIGTERM, signal.SIGINT), owner=None):
    """Installs handlers for sigs that trigger the stop (first of message or signal wins).
    Each installation goes through install_handler, so failures are reported. Returns True
    when every handler was installed."""
    if owner is None:
        owner = _caller_module(2)
    _listen()
    ok = True
    for sig in sigs:
        if not install_handler(sig, _stop_signal_handler, owner=owner):
            ok = False
    return ok


# ---------------------------------------------------------------------------------------
# Drop tokens.


def lend(receivers):
    """A buffer was lent to `receivers` (a name or a list of names): returns its token id."""
    tid = next(_ids)
    if _push is _noop:
        return tid
    try:
        names = (receivers,) if receivers.__class__ is str else tuple(receivers)
    except Exception:
        names = (receivers,)  # one receiver that is not a string: sent as str(receivers)
    _push((_ISSUED, tid, names))
    return tid


def returned(token_id, receiver):
    """`receiver` gave the buffer of `token_id` back."""
    if _push is not _noop:
        _push((_RELEASED, token_id, receiver))


# ---------------------------------------------------------------------------------------
# Forks.


def fail_fast_on_fork(enabled=True):
    """In a child forked (without exec) from a process that had other threads than this
    client's, print one line on stderr and exit with status 70. Only under gracewatch."""
    global _fail_fast
    _start()
    _fail_fast = bool(enabled)


def _thread_count():
    try:
        with open("/proc/self/status", "rb") as f:
            for raw in f:
                if raw.startswith(b"Threads:"):
                    return int(raw.split()[1])
    except Exception:
        pass
    return threading.active_count()


def _asyncio_running():
    aio = sys.modules.get("asyncio")
    if aio is None:
        return False
    try:
        return aio._get_running_loop() is not None
    except Exception:
        return False


def _own_threads(c):
    """The native thread ids of this client's threads (None: one being started)."""
    own = []
    for t in (c.sender, c.reader):
        if t is None:
            continue
        nid = getattr(t, "native_id", None)
        if nid is None:
            own.append(None)  # being started right now: it exists, or is about to
        elif os.path.exists("/proc/self/task/%d" % nid):
            own.append(nid)
    return own


def _before_fork():
    global _fork_info
    _fork_info = None
    c = _conn
    if c is None:
        return
    try:
        threads = _thread_count()
        own = _own_threads(c)
        settled = threads
        if _fail_fast:
            # A thread joined just before the fork can still be counted by the kernel for
            # a moment: before killing the child for it, give it a few ms to be gone.
            for _ in range(5):
                if settled - len(own) <= 1:
                    break
                time.sleep(0.001)
                settled = _thread_count()
                own = _own_threads(c)
        # Hold the send lock across the fork so that no line is half written at that
        # instant: the child writes its own line on the same connection.
        locked = c.state == "connected" and c.send_lock.acquire(True, 0.1)
        _fork_info = (os.getpid(), threads, own, _asyncio_running(), locked, settled)
    except Exception:
        _fork_info = None


def _after_fork_parent():
    info = _fork_info
    c = _conn
    if info is not None and info[4] and c is not None:
        try:
            c.send_lock.release()
        except Exception:
            pass


def _after_fork_child():
    global _conn, _state, _push, _stop, _fork_info, _init_lock
    info = _fork_info
    c = _conn
    if c is None or info is None:
        return
    # This child has none of the parent's threads: drop the client (its queue and locks
    # belong to threads that do not exist here). It acts as "not connected" from now on.
    _conn = None
    _state = "forked"
    _push = _noop
    _fork_info = None
    _init_lock = threading.Lock()
    try:
        _stop = _stop.copy_for_child()
    except Exception:
        _stop = _Stop()
    parent_pid, threads, own, runtime, locked, settled = info
    sock = c.sock
    if locked and sock is not None:
        line = _line(
            {
                "type": "fork",
                "parent_pid": parent_pid,
                "child_pid": os.getpid(),
                "threads": threads,
                "runtime": runtime,
                # Not in the protocol (extra fields are ignored): which of `threads` are
                # this client's own, which hold nothing the child could wait for.
                "client_threads": len(own),
                "client_tids": [t for t in own if t is not None],
            }
        )
        try:
            _send_nonblocking(sock, line)
        except Exception:
            pass
    if sock is not None:
        try:
            sock.close()  # this process's descriptor only: the parent's connection lives on
        except Exception:
            pass
    if _fail_fast and settled - len(own) > 1:
        _stderr(
            "refusing to run in a child forked without exec from a process with %d threads: "
            "use subprocess/multiprocessing 'spawn' or exec instead" % threads
        )
        os._exit(_FAIL_FAST_STATUS)


def _send_nonblocking(sock, data):
    """Writes without changing the descriptor's blocking mode (shared with the parent)."""
    flags = _SEND_FLAGS | getattr(socket, "MSG_DONTWAIT", 0)
    deadline = time.monotonic() + 1.0
    while data:
        try:
            n = sock.send(data, flags)
            data = data[n:]
        except (BlockingIOError, InterruptedError):
            if time.monotonic() >= deadline:
                return
            time.sleep(0.001)
