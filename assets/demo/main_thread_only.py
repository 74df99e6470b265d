"""Demo node, failure 4: a framework that sets its SIGTERM handler only from the main
thread, started from a worker thread.

The service framework `servicekit` installs a SIGTERM handler that drains and cleans up,
but it was started from a worker thread: the claim fails and servicekit carries on
without it. SIGTERM stays at its default action while SIGINT is caught by Python as
usual (KeyboardInterrupt), and the node does not listen for the stop message. So Ctrl-C
ends it with its cleanup ("cleanup done"), but SIGTERM kills it on the spot: "cleanup
done" is never printed. gracewatch should show "SIGTERM: default", stop-signal-default
and handler-install-failed (and handler-off-main-thread) before anyone stops it; the
stop ends by signal 15 (exit cause `stopped`, by SIGTERM) without cleanup.
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
    """One whole line at a time (two threads print)."""
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class ServiceKit(object):
    """A service framework: run() installs its SIGTERM handler, serves, then cleans up."""

    def __init__(self):
        self.stopping = False

    def _on_sigterm(self, signum, frame):
        self.stopping = True

    def run(self):
        if not gw.install_handler(signal.SIGTERM, self._on_sigterm, owner="servicekit"):
            say("servicekit: SIGTERM handler not installed (not the main thread); serving anyway")
        while not self.stopping:
            time.sleep(0.2)  # serves requests
        self.cleanup()

    def cleanup(self):
        time.sleep(0.05)  # closes connections, flushes its journal
        say("cleanup done")


def main():
    kit = ServiceKit()
    service = threading.Thread(target=kit.run, name="service-thread")
    try:
        service.start()
        say("main_thread_only: servicekit sets its SIGTERM handler from the main thread only but is started "
            "from a worker; SIGTERM stays default and kills the node without its cleanup")
        while service.is_alive():
            # The main thread runs something else (here: nothing). Not join(timeout): a
            # KeyboardInterrupt inside Thread.join can leave the thread marked as stopped
            # on some Python versions, and then nobody waits for the cleanup.
            time.sleep(0.2)
    except KeyboardInterrupt:  # SIGINT is caught by Python as usual
        kit.stopping = True
        service.join()


if __name__ == "__main__":
    main()
