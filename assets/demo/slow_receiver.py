"""Demo node, failure 3: drop tokens held by a slow receiver stall the stop.

A camera loop lends every frame (a drop token) to two receivers in this process: `logger`
gives each frame back at once; `detector` is a pure-Python worker that holds each frame
about 0.7 s, part of it in a CPU loop that holds the GIL. The detector falls behind and
holds a backlog of up to BACKLOG frames (newer frames skip it). On a stop (the stop
message or SIGTERM, whichever comes first) the node stops filming but refuses to exit
until every frame is returned, so the stop stalls; the detector still returns one frame
about every 0.7 s, which lets drain-aware grace extend, but a backlog of ~30 frames needs
~20 s. gracewatch should show the pending tokens held by `detector` during the countdown
(tokens-stuck), the exit cause `killed-at-deadline`, and the journal should record the
tokens still pending at the kill, held by `detector`.
"""

import collections
import os
import sys
import threading
import time

try:
    import gracewatch_node as gw
except ImportError:  # run from a checkout: the client sits in ../python
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import gracewatch_node as gw

FRAME_EVERY = 0.1  # seconds between frames
HOLD = 0.7  # seconds the detector holds each frame
GIL_BURST = 0.08  # of which spent in a pure-Python loop (holding the GIL); the rest waiting
BACKLOG = 30  # frames the detector holds at most; newer frames skip it

lock = threading.Lock()
held = {"detector": set(), "logger": set()}
detector_inbox = collections.deque()
wake_detector = threading.Event()
stopping = threading.Event()


def give_back(tid, receiver):
    with lock:
        held[receiver].discard(tid)
    gw.returned(tid, receiver)


def detector():
    while True:
        wake_detector.wait(0.5)
        wake_detector.clear()
        while detector_inbox:
            tid = detector_inbox.popleft()
            t = time.monotonic()
            n = 0
            while time.monotonic() - t < GIL_BURST:  # "runs the model" in pure Python
                n += sum(i * i for i in range(200))
            time.sleep(HOLD - GIL_BURST)
            give_back(tid, "detector")


def pending():
    with lock:
        return len(held["detector"]) + len(held["logger"])


def main():
    gw.stop_on_signals(owner="slow_receiver")  # SIGTERM/SIGINT start the same stop
    print("slow_receiver: lends each frame to `detector` (slow, pure Python, holds the GIL) and `logger` "
          "(fast); on a stop it waits for every frame back, so the stop stalls until the kill", flush=True)
    threading.Thread(target=detector, name="detector", daemon=True).start()

    frames = 0
    while not gw.wait_for_stop(FRAME_EVERY):
        with lock:
            to = ["logger"] if len(held["detector"]) >= BACKLOG else ["detector", "logger"]
            tid = gw.lend(to)
            for r in to:
                held[r].add(tid)
        give_back(tid, "logger")  # the logger writes it out at once
        if "detector" in to:
            detector_inbox.append(tid)
            wake_detector.set()
        frames += 1

    # The stop: no more frames, but this node will not exit while a frame is lent out.
    print("slow_receiver: stop (%s) after %d frames: waiting for %d frames held by detector"
          % (gw.stop_reason(), frames, pending()), flush=True)
    while pending():
        time.sleep(1.0)
        print("slow_receiver: still waiting for %d frames held by detector" % pending(), flush=True)
    print("slow_receiver: every frame returned, exiting", flush=True)


if __name__ == "__main__":
    main()
