"""Demo node: a well-behaved Python node.

It installs its SIGTERM/SIGINT handlers on the main thread (stop_on_signals), listens for
the cooperative stop (on_stop), lends each frame to a receiver that gives it back within
milliseconds, and on a stop (message or signal, whichever comes first) finishes the frame
in flight and exits in well under a second. gracewatch should show no hazard and the exit
cause `stopped`.
"""

import os
import queue
import sys
import threading
import time

try:
    import gracewatch_node as gw
except ImportError:  # run from a checkout: the client sits in ../python
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import gracewatch_node as gw

FRAME_EVERY = 0.2  # seconds


def main():
    # First thing: until the handlers are in, SIGTERM is at its default action.
    gw.stop_on_signals(owner="well_behaved")
    t_stop = []
    gw.on_stop(lambda reason: t_stop.append(time.monotonic()))
    print("well_behaved: SIGTERM/SIGINT handled on the main thread, listens for the stop message, "
          "returns every buffer at once; stops cleanly in well under a second", flush=True)

    inbox = queue.Queue()
    outstanding = set()
    lock = threading.Lock()

    def sink():
        while True:
            tid = inbox.get()
            if tid is None:
                return
            time.sleep(0.005)  # "writes the frame out"
            with lock:
                outstanding.discard(tid)
            gw.returned(tid, "sink")

    worker = threading.Thread(target=sink, name="sink")
    worker.start()

    frames = 0
    while not gw.wait_for_stop(FRAME_EVERY):
        tid = gw.lend(["sink"])
        with lock:
            outstanding.add(tid)
        inbox.put(tid)
        frames += 1

    # The stop: no new frames; the sink finishes what it holds, then ends.
    inbox.put(None)
    worker.join(2.0)
    took = (time.monotonic() - t_stop[0]) * 1000 if t_stop else 0.0
    print("well_behaved: stop (%s): %d frames sent, %d still lent, stopped %.0f ms after the request"
          % (gw.stop_reason(), frames, len(outstanding), took), flush=True)


if __name__ == "__main__":
    main()
