"""Demo node, failure 1: signal handlers installed at import time, off the main thread or
while a framework defers SIGINT.

At import time the library `fastmetrics` installs its SIGTERM handler from its own init
thread: Python refuses (ValueError: signal only works in main thread of the main
interpreter). Then the framework `deferloop` starts: it defers SIGINT while it runs and
refuses anyone else's SIGINT handler, so the application's own SIGINT handler fails too.
The node does not crash: both failed claims are reported with their exact errors, and it
falls back to the cooperative stop (on_stop), so it still stops cleanly on the stop
message. gracewatch should show handler-install-failed and handler-off-main-thread,
SIGTERM at its default (no stop-signal-default hazard: the node listens for the stop
message), and the exit cause `stopped` with the stop acknowledged.
"""

import os
import signal
import sys
import threading
import time

try:
    import gracewatch_node as gw
except ImportError:  # run from a checkout: the client sits in ../python
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import gracewatch_node as gw

_out = threading.Lock()


def say(line):
    """One whole line at a time: the stop callback prints from the client's reader thread."""
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


say("import_time_handlers: a library claims SIGTERM from its init thread and a framework that "
    "defers SIGINT refuses the app's handler; both fail, the node falls back to the stop message")


# The application listens for the stop message first thing, before it imports anything that
# might claim signals: whatever the libraries do to the handlers, a stop reaches it.
gw.on_stop(lambda reason: say("app: stop requested (%s)" % reason))


# --- the library `fastmetrics`: what `import fastmetrics` does -------------------------


class fastmetrics(object):
    installed = False

    @staticmethod
    def flush_and_exit(signum, frame):
        os.write(1, b"fastmetrics: flushed metrics\n")  # no lock in a signal handler
        sys.exit(0)

    @classmethod
    def _init(cls):
        # Runs in the library's init thread, as some libraries do at import time.
        cls.installed = gw.install_handler(signal.SIGTERM, cls.flush_and_exit, owner="fastmetrics")
        if not cls.installed:
            say("fastmetrics: could not install its SIGTERM handler; importing anyway")


_init_thread = threading.Thread(target=fastmetrics._init, name="fastmetrics-init")
_init_thread.start()
_init_thread.join()


# --- the framework `deferloop`: defers SIGINT while it runs ------------------------------


class DeferLoop(object):
    """Catches SIGINT itself and defers it to a safe point; while it runs, installing
    another SIGINT handler raises (it wraps signal.signal, as such frameworks do)."""

    def __init__(self):
        self.interrupted = False
        self._signal = None

    def _defer(self, signum, frame):
        self.interrupted = True  # handled at the next safe point of the loop

    def _guarded_signal(self, sig, handler):
        if sig == signal.SIGINT:
            raise RuntimeError("SIGINT is deferred by deferloop; handlers cannot be installed while it runs")
        return self._signal(sig, handler)

    def __enter__(self):
        gw.install_handler(signal.SIGINT, self._defer, owner="deferloop")
        self._signal = signal.signal
        signal.signal = self._guarded_signal
        return self

    def __exit__(self, *exc):
        signal.signal = self._signal
        gw.restore_handler(signal.SIGINT, owner="deferloop")
        return False


# --- the application ------------------------------------------------------------------


def main():
    with DeferLoop() as loop:
        def app_sigint(signum, frame):
            say("app: SIGINT")

        if not gw.install_handler(signal.SIGINT, app_sigint, owner="app"):
            say("app: SIGINT handler refused by deferloop; using the cooperative stop")

        # Neither handler could be installed: the stop message is the way to stop cleanly.
        ticks = 0
        while not loop.interrupted and not gw.wait_for_stop(0.5):
            ticks += 1  # the application's work
    say("app: cleanup done after %d ticks (%s)" % (ticks, gw.stop_reason() or "SIGINT"))


if __name__ == "__main__":
    main()
