#!/usr/bin/env python3
"""Measures gracewatch against the supervisor rows of DESIGN.md "Targets".

Build once first:  cargo build --release
Then:              python3 scripts/measure.py [--quick]

Every figure is measured on real processes. Stop latencies use a pidfd on the node, so "gone"
is the instant the kernel reports the exit. Nothing here is a test: machines are shared and
noisy, so read the figures, do not assert on them.
"""
import fcntl, json, os, select, signal, statistics, struct, subprocess, sys, tempfile, termios, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "gracewatch")
QUICK = "--quick" in sys.argv
TICK = os.sysconf("SC_CLK_TCK")


class Session:
    def __init__(self, manifest):
        self.dir = tempfile.mkdtemp(prefix="gw-measure-")
        os.makedirs(os.path.join(self.dir, "run"))
        with open(os.path.join(self.dir, "gracewatch.toml"), "w") as f:
            f.write(manifest)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=os.path.join(self.dir, "run"), XDG_STATE_HOME=os.path.join(self.dir, "state"))
        self.launch_ns = time.monotonic_ns()
        self.proc = subprocess.Popen([BIN, "up", "--headless", "--journal", "j.jsonl"], cwd=self.dir, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.ps() is not None:
                return
            time.sleep(0.02)
        raise SystemExit("gracewatch did not come up")

    def run(self, *args, capture=True):
        return subprocess.run([BIN, *args], cwd=self.dir, env=self.env, capture_output=capture, text=True)

    def ps(self):
        r = self.run("ps", "--json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def journal(self):
        out = []
        with open(os.path.join(self.dir, "j.jsonl")) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def wait_until(self, cond, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return True
            time.sleep(0.02)
        return False

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def node_pid(s, name):
    for n in s.ps()["nodes"]:
        if n["name"] == name:
            return n["pid"]


def stop_to_gone(node_code, grace, runs):
    """Seconds from running `gracewatch stop` to the node's exit, and the SIGKILL lateness."""
    results, late = [], []
    for i in range(runs):
        m = 'name = "stoplat{}"\n[nodes.n]\ncmd = ["python3", "-c", {}]\ngrace = "{}"\n'.format(i, json.dumps(node_code), grace)
        s = Session(m)
        try:
            s.wait_until(lambda: any(e["ev"].get("output", {}).get("line") == "ready" for e in s.journal()))
            pid = node_pid(s, "n")
            fd = os.pidfd_open(pid)
            t0 = time.monotonic()
            subprocess.Popen([BIN, "stop", "n"], cwd=s.dir, env=s.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            p = select.poll()
            p.register(fd, select.POLLIN)
            p.poll(30_000)
            results.append(time.monotonic() - t0)
            os.close(fd)
            s.wait_until(lambda: s.proc.poll() is not None)
            evs = s.journal()
            req = [e["t"] for e in evs if "stop_requested" in e["ev"]]
            kill = [e["t"] for e in evs if e["ev"].get("stage_entered", {}).get("stage") == "kill"]
            if req and kill:
                grace_ns = int(float(grace.rstrip("s")) * 1e9)
                late.append((kill[0] - req[0] - grace_ns) / 1e6)
        finally:
            s.close()
    return results, late


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])  # utime + stime, ticks


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def guardian_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return None
    for k in kids:
        try:
            with open("/proc/%d/cmdline" % k, "rb") as f:
                if b"__guardian" in f.read():
                    return k
        except OSError:
            pass


def fifty_idle(seconds):
    nodes = "".join('[nodes.n{0}]\ncmd = "sleep 100000"\n'.format(i) for i in range(50))
    s = Session('name = "idle50"\n' + nodes)
    try:
        s.wait_until(lambda: sum(1 for e in s.journal() if "node_spawned" in e["ev"]) == 50)
        evs = s.journal()
        header = evs[0]["ev"]["session_started"]
        last_spawn = max(e["t"] for e in evs if "node_spawned" in e["ev"])
        launch_to_running = (header["monotonic_ns"] + last_spawn - s.launch_ns) / 1e9
        time.sleep(3)  # settle: first full samples, then idle cadence
        pid = s.proc.pid
        g = guardian_of(pid)
        rss = rss_kib(pid)
        grss = rss_kib(g) if g else None
        c0, g0 = proc_stat(pid), (proc_stat(g) if g else 0)
        time.sleep(seconds)
        cpu = (proc_stat(pid) - c0) / TICK
        gcpu = ((proc_stat(g) - g0) / TICK) if g else None
        t0 = time.monotonic()
        n = 10 if QUICK else 50
        for _ in range(n):
            s.run("ps")
        ps_rt = (time.monotonic() - t0) / n
        return launch_to_running, rss, grss, cpu, gcpu, ps_rt
    finally:
        s.close()


def hundred_attached(seconds):
    """100 idle nodes with the cockpit attached (`gracewatch attach` in a 160x45 pseudo-terminal
    whose output is read and thrown away): CPU of the cockpit and of the supervisor."""
    nodes = "".join('[nodes.n{0:03}]\ncmd = "sleep 100000"\n'.format(i) for i in range(100))
    s = Session('name = "idle100"\n' + nodes)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
    drained = [0]

    def drain():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            drained[0] += len(data)

    try:
        s.wait_until(lambda: sum(1 for e in s.journal() if "node_spawned" in e["ev"]) == 100)
        env = dict(s.env, TERM="xterm-256color")
        tui = subprocess.Popen([BIN, "attach", "--session", "idle100"], cwd=s.dir, env=env, stdin=slave, stdout=slave,
                               stderr=slave, start_new_session=True)
        os.close(slave)
        threading.Thread(target=drain, daemon=True).start()
        time.sleep(3)  # first frames, first samples at the attached cadence
        t0, s0, b0 = proc_stat(tui.pid), proc_stat(s.proc.pid), drained[0]
        time.sleep(seconds)
        tui_cpu = (proc_stat(tui.pid) - t0) / TICK
        sup_cpu = (proc_stat(s.proc.pid) - s0) / TICK
        out_kib = (drained[0] - b0) / 1024
        tui.send_signal(signal.SIGTERM)
        tui.wait(10)
        return tui_cpu, sup_cpu, out_kib
    finally:
        os.close(master)
        s.close()


def survivors_after_sigkill():
    tag = str(os.getpid())
    nodes = "".join('[nodes.n{0}]\ncmd = ["sh", "-c", "sleep 7{1}1 & setsid sleep 7{1}2 & sleep 7{1}3"]\n'.format(i, tag) for i in range(50))
    s = Session('name = "kill9"\n' + nodes)
    try:
        s.wait_until(lambda: len(matching(tag)) == 150)
        before = len(matching(tag))
        s.proc.kill()
        s.proc.wait()
        time.sleep(1.0)
        return before, len(matching(tag))
    finally:
        s.close()


def matching(tag):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    c = f.read()
                if c.startswith(b"sleep\x007" + tag.encode()):
                    with open("/proc/%s/stat" % d) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                            out.append(int(d))
            except OSError:
                pass
    return out


def main():
    if not os.path.exists(BIN):
        raise SystemExit("build first: cargo build --release")
    runs = 3 if QUICK else 7
    ignore = "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(1000)"
    handler = ("import signal,sys,time\ndef h(s,f):\n    time.sleep(0.3); sys.exit(0)\n"
               "signal.signal(signal.SIGTERM, h)\nprint('ready', flush=True)\nwhile True: time.sleep(1)")
    r, late = stop_to_gone(ignore, "2s", runs)
    print("stop → gone, SIGTERM ignored, grace 2s: median %.4f s (min %.4f, max %.4f; target ≤ 2.010)" % (statistics.median(r), min(r), max(r)))
    print("  SIGKILL after the deadline by: median %.2f ms, max %.2f ms (from the journal)" % (statistics.median(late), max(late)))
    r, _ = stop_to_gone(handler, "10s", runs)
    print("stop → gone, 0.3 s SIGTERM handler: median %.4f s (min %.4f, max %.4f; target ≤ 0.31)" % (statistics.median(r), min(r), max(r)))
    launch, rss, grss, cpu, gcpu, ps_rt = fifty_idle(10 if QUICK else 30)
    print("launch → 50 nodes running: %.4f s (target ≤ 0.1)" % launch)
    print("supervisor RSS, 50 idle nodes: %.1f MB (target ≤ 10); guardian: %s" % (rss / 1024, "%.1f MB" % (grss / 1024) if grss else "-"))
    print("supervisor CPU, 50 idle nodes, %d s, nobody attached: %.3f s (target ≤ 0.02 over 30 s); guardian: %s s" % (10 if QUICK else 30, cpu, gcpu))
    print("gracewatch ps round trip: %.1f ms (target ≤ 10)" % (ps_rt * 1000))
    secs = 10 if QUICK else 30
    tui_cpu, sup_cpu, out_kib = hundred_attached(secs)
    print("100 idle nodes, cockpit attached, %d s: cockpit CPU %.3f s, supervisor CPU %.3f s, %.0f KiB drawn" % (secs, tui_cpu, sup_cpu, out_kib))
    before, after = survivors_after_sigkill()
    print("survivors after SIGKILL of the supervisor: %d of %d (target 0)" % (after, before))


if __name__ == "__main__":
    main()
