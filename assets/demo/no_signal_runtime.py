"""Demo node, failure 2: a runtime where signal handlers cannot be registered at all.

The application runs entirely in a worker thread of an embedding runtime (here a small
"host" that keeps the main thread for itself, like an interpreter embedded without
signal handling): every attempt to install a handler fails, SIGTERM and SIGINT stay at
their default actions. The node listens for the cooperative stop instead and, on the stop
message, saves its state and exits before any signal is sent. gracewatch should show
handler-install-failed (and handler-off-main-thread: the attempts come from the worker),
the stop acknowledged, and the exit cause `stopped`, with no signal delivered.
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


def application():
    """The embedded application: it only ever runs in the host's worker thread."""
    if not gw.stop_on_signals(owner="app"):  # SIGTERM and SIGINT: both fail here
        print("app: no signal handler can be installed in this runtime; relying on the stop message",
              flush=True)
    stop = threading.Event()
    gw.on_stop(lambda reason: stop.set())
    items = 0
    while not stop.wait(0.5):
        items += 1  # the application's work
    time.sleep(0.1)  # "saves its state"
    print("app: stop (%s): state saved after %d items, exiting before any signal"
          % (gw.stop_reason(), items), flush=True)


def host():
    """The embedding runtime: an interpreter set up without signal handling (like
    Py_InitializeEx(0)), running the application on its worker pool."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the host keeps signals to itself
    print("no_signal_runtime: the app runs in a worker of an embedding runtime where no signal handler "
          "can be installed; it stops through the stop message only", flush=True)
    worker = threading.Thread(target=application, name="host-worker-1")
    worker.start()
    while worker.is_alive():
        worker.join(0.5)


if __name__ == "__main__":
    host()
