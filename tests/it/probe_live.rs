//! The probe against real processes (python3, sh, sleep): no mocked /proc.
//!
//! Every wait polls with a generous timeout; nothing here asserts how fast anything is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gracewatch::event::{EventKind, ForkSource, ProbeMode, ProcSample, Signal};
use gracewatch::probe::{Probe, ProbeConfig, ProcExit};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Patience for what should happen (waits return as soon as it does): long, for a loaded CI
/// machine.
const WAIT: Duration = Duration::from_secs(30);

/// The real interpreter: `python3` on PATH may be a wrapper script (pyenv, asdf) that forks
/// and execs its way to it, which would make every tree here bigger than the test means.
fn python3() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().unwrap();
        let path = String::from_utf8(out.stdout).unwrap().trim().to_string();
        if path.is_empty() { "python3".to_string() } else { path }
    })
}

struct Harness {
    probe: Probe,
    events: Arc<Mutex<Vec<EventKind>>>,
}

fn config(connector: bool) -> ProbeConfig {
    ProbeConfig { fast_interval_ms: 100, idle_interval_ms: 1_000, connector }
}

impl Harness {
    fn start(connector: bool) -> Harness {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink_events = events.clone();
        let probe = Probe::start(
            config(connector),
            Box::new(move |ev| sink_events.lock().unwrap_or_else(PoisonError::into_inner).push(ev)),
        )
        .unwrap();
        Harness { probe, events }
    }

    /// Polls `f` over the events until it says something or the wait is over.
    fn wait_for<T>(&self, what: &str, f: impl Fn(&[EventKind]) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(t) = f(&self.events.lock().unwrap()) {
                return t;
            }
            if Instant::now() > deadline {
                let evs = self.events.lock().unwrap();
                panic!("timed out waiting for {what}; events:\n{:#?}", &*evs);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a sample of `pid` that satisfies `ok`.
    fn sample_where(&self, what: &str, pid: u32, ok: impl Fn(&ProcSample) -> bool) -> ProcSample {
        self.wait_for(what, |evs| {
            evs.iter()
                .rev()
                .find_map(|e| match e {
                    EventKind::ProcSampled { sample, .. } if sample.pid == pid => Some(sample.clone()),
                    _ => None,
                })
                .filter(|s| ok(s))
        })
    }

    /// The connector is up, or `None` (with a note) when it was refused here.
    fn mode(&self) -> (ProbeMode, String) {
        self.wait_for("probe mode", |evs| {
            evs.iter().find_map(|e| match e {
                EventKind::ProbeMode { mode, detail } => Some((*mode, detail.clone())),
                _ => None,
            })
        })
    }

    fn has_connector(&self, test: &str) -> bool {
        let (mode, detail) = self.mode();
        if mode != ProbeMode::Connector {
            // Polling, and it says why.
            assert!(detail.contains("connector"), "{detail}");
            eprintln!("{test}: the kernel connector is not available here ({detail}); the probe polls");
        }
        mode == ProbeMode::Connector
    }
}

/// A process group started for a test, killed when the test ends.
struct Group {
    child: Child,
    lines: Option<BufReader<ChildStdout>>,
    /// The leader's pidfd: it tells whether the leader is reaped yet (its pid, and so the group's
    /// id, free for reuse).
    leader: std::os::fd::OwnedFd,
    /// Other processes of the test to kill at the end, held by pidfd (a pid may be reused).
    extra: Vec<std::os::fd::OwnedFd>,
}

fn pidfd_of(pid: u32) -> std::os::fd::OwnedFd {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).unwrap()
}

impl Group {
    fn spawn(program: &str, args: &[&str]) -> Group {
        use std::os::unix::process::CommandExt;
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap();
        let leader = pidfd_of(child.id());
        Group { child, lines: None, leader, extra: Vec::new() }
    }

    fn python(code: &str) -> Group {
        Group::spawn(python3(), &["-u", "-c", code])
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the process prints (it prints pids it wants the test to know).
    fn line(&mut self) -> String {
        if self.lines.is_none() {
            self.lines = Some(BufReader::new(self.child.stdout.take().unwrap()));
        }
        let mut s = String::new();
        self.lines.as_mut().unwrap().read_line(&mut s).unwrap();
        s.trim().to_string()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let kill = rustix::process::Signal::KILL;
        for fd in &self.extra {
            let _ = rustix::process::pidfd_send_signal(fd, kill);
        }
        // Only while the leader is unreaped (a signal to it still lands, if only on a zombie)
        // does its pid surely still name this group.
        if rustix::process::pidfd_send_signal(&self.leader, kill).is_ok() {
            if let Some(p) = rustix::process::Pid::from_raw(self.child.id() as i32) {
                let _ = rustix::process::kill_process_group(p, kill);
            }
        }
        let _ = self.child.wait();
    }
}

#[test]
fn dispositions_ignored_caught_and_default() {
    let h = Harness::start(true);
    let ign = Group::python("import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)");
    let cgt = Group::python("import signal,time; signal.signal(signal.SIGTERM, lambda *a: None); time.sleep(60)");
    let plain = Group::spawn("sleep", &["60"]);
    h.probe.watch("ign", ign.pid());
    h.probe.watch("cgt", cgt.pid());
    h.probe.watch("plain", plain.pid());
    let s = h.sample_where("SIGTERM ignored", ign.pid(), |s| s.ignored.contains(Signal::TERM));
    assert!(!s.caught.contains(Signal::TERM));
    let s = h.sample_where("SIGTERM caught", cgt.pid(), |s| s.caught.contains(Signal::TERM));
    assert!(!s.ignored.contains(Signal::TERM));
    // Python catches SIGINT itself: that, and SIGTERM left at its default.
    assert!(s.caught.contains(Signal::INT));
    let s = h.sample_where("sleep sampled", plain.pid(), |s| s.name == "sleep");
    assert!(!s.caught.contains(Signal::TERM) && !s.ignored.contains(Signal::TERM));
    assert_eq!(s.threads.len(), 1);
}

const BLOCKING: &str = r"
import signal, threading, time
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
def quiet():
    time.sleep(60)
def open_door():
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    time.sleep(60)
import sys
threading.Thread(target=quiet, daemon=True).start()
threading.Thread(target=open_door if sys.argv[1] == 'open' else quiet, daemon=True).start()
time.sleep(60)
";

#[test]
fn blocked_on_every_thread_or_not() {
    let h = Harness::start(true);
    let shut = Group::spawn(python3(), &["-c", BLOCKING, "shut"]);
    let open = Group::spawn(python3(), &["-c", BLOCKING, "open"]);
    h.probe.watch("shut", shut.pid());
    h.probe.watch("open", open.pid());
    let s = h.sample_where("three threads, SIGTERM blocked everywhere", shut.pid(), |s| {
        s.threads.len() == 3 && s.blocked_everywhere().contains(Signal::TERM)
    });
    assert!(s.threads.iter().all(|t| t.blocked.contains(Signal::TERM)));
    // The other: two threads block it (confirmed), one does not.
    let s = h.sample_where("two of three threads block SIGTERM", open.pid(), |s| {
        s.threads.len() == 3 && s.threads.iter().filter(|t| t.blocked.contains(Signal::TERM)).count() == 2
    });
    assert!(!s.blocked_everywhere().contains(Signal::TERM));
}

#[test]
fn thread_names_are_reported() {
    let h = Harness::start(true);
    // Python 3.11 does not give threads OS names: set them with prctl(PR_SET_NAME).
    let g = Group::python(
        r#"
import ctypes, threading, time
libc = ctypes.CDLL(None)
def named(n):
    libc.prctl(15, n.encode(), 0, 0, 0)
    time.sleep(60)
for n in ("gw-alpha", "gw-beta"):
    threading.Thread(target=named, args=(n,), daemon=True).start()
time.sleep(60)
"#,
    );
    h.probe.watch("named", g.pid());
    let s = h.sample_where("named threads", g.pid(), |s| {
        let names: Vec<&str> = s.threads.iter().map(|t| t.name.as_str()).collect();
        names.contains(&"gw-alpha") && names.contains(&"gw-beta")
    });
    assert_eq!(s.threads.len(), 3);
    assert!(s.threads.iter().any(|t| t.tid == g.pid() && t.name == "python3"));
}

#[test]
fn a_shell_running_sleep_has_an_execd_child() {
    let h = Harness::start(true);
    let g = Group::spawn("sh", &["-c", "sleep 60; true"]);
    h.probe.watch("sh", g.pid());
    let s = h.sample_where("sleep listed as exec'd child", g.pid(), |s| s.children.iter().any(|c| c.name == "sleep"));
    assert!(s.children.iter().all(|c| c.execd), "{s:?}");
    let evs = h.events.lock().unwrap();
    assert!(!evs.iter().any(|e| matches!(e, EventKind::Fork { .. })), "a single-threaded shell's fork is no hazard");
}

const THREADED_FORK: &str = r"
import os, threading, time
for _ in range(3):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
time.sleep(0.5)
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
print(pid, flush=True)
time.sleep(60)
";

fn threaded_fork_without_exec(connector: bool) {
    let h = Harness::start(connector);
    let mut g = Group::python(THREADED_FORK);
    h.probe.watch("forker", g.pid());
    let child: u32 = g.line().parse().unwrap();
    let (mode, _) = h.mode();
    // With the connector, a round reading the parent's children may find the child first (and
    // announce it from /proc); the kernel's report follows and is the one that counts.
    let expected = if mode == ProbeMode::Connector { ForkSource::Connector } else { ForkSource::Proc };
    let fork = h.wait_for("Fork", |evs| {
        evs.iter().find_map(|e| match e {
            EventKind::Fork { node, fork }
                if node == "forker" && fork.child_pid == child && fork.source == expected =>
            {
                Some(fork.clone())
            }
            _ => None,
        })
    });
    assert_eq!(fork.parent_pid, g.pid());
    assert!(fork.threads >= 4, "{fork:?}");
    h.wait_for("ForkResolved not exec'd, threaded", |evs| {
        evs.iter().find(|e| matches!(e, EventKind::ForkResolved { child_pid, execd: false, threaded: true, .. } if *child_pid == child))
            .map(|_| ())
    });
    let s = h.sample_where("child listed as not exec'd", g.pid(), |s| s.children.iter().any(|c| c.pid == child));
    assert!(s.children.iter().any(|c| c.pid == child && !c.execd), "{s:?}");
}

#[test]
fn threaded_fork_without_exec_with_connector() {
    threaded_fork_without_exec(true);
}

#[test]
fn threaded_fork_without_exec_polling() {
    threaded_fork_without_exec(false);
}

#[test]
fn single_threaded_fork_and_exec_is_no_hazard() {
    let h = Harness::start(true);
    let mut g = Group::python(
        r"
import os, time
time.sleep(0.5)
pid = os.fork()
if pid == 0:
    os.execvp('sleep', ['sleep', '60'])
print(pid, flush=True)
time.sleep(60)
",
    );
    h.probe.watch("execer", g.pid());
    let child: u32 = g.line().parse().unwrap();
    let s = h.sample_where("sleep child exec'd", g.pid(), |s| {
        s.children.iter().any(|c| c.pid == child && c.name == "sleep")
    });
    assert!(s.children.iter().all(|c| c.execd));
    let evs = h.events.lock().unwrap();
    assert!(
        !evs.iter().any(|e| matches!(e, EventKind::Fork { .. })),
        "a single-threaded parent's fork is not announced"
    );
    assert!(!evs.iter().any(|e| matches!(e, EventKind::ForkResolved { execd: false, .. })));
}

#[test]
fn a_child_that_lives_a_few_milliseconds_is_seen_by_the_connector() {
    let h = Harness::start(true);
    if !h.has_connector("short-lived child") {
        return;
    }
    let mut g = Group::python(
        r"
import os, threading, time
for _ in range(2):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
time.sleep(0.5)
pid = os.fork()
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print(pid, flush=True)
time.sleep(60)
",
    );
    h.probe.watch("snapshotter", g.pid());
    let child: u32 = g.line().parse().unwrap();
    // A round reading the parent's children may find the child first, if the parent is slow to
    // reap it on a loaded machine; the kernel reports it in any case.
    let fork = h.wait_for("Fork of the short-lived child, from the kernel", |evs| {
        evs.iter().find_map(|e| match e {
            EventKind::Fork { fork, .. } if fork.child_pid == child && fork.source == ForkSource::Connector => {
                Some(fork.clone())
            }
            _ => None,
        })
    });
    // The main thread and the two sleepers; nothing else runs in the parent.
    assert_eq!(fork.threads, 3, "{fork:?}");
    h.wait_for("ForkResolved of the short-lived child", |evs| {
        evs.iter().find(|e| matches!(e, EventKind::ForkResolved { child_pid, execd: false, threaded: true, .. } if *child_pid == child)).map(|_| ())
    });
}

const DETACHING: &str = r"
import os, sys, time
time.sleep(0.3)
pid = os.fork()
if pid == 0:
    g = os.fork()
    if g == 0:
        os.setsid()
        time.sleep(60)
        os._exit(0)
    print(g, flush=True)
    time.sleep(float(sys.argv[1]))
    os._exit(0)
os.waitpid(pid, 0)
print('parent gone', flush=True)
time.sleep(60)
";

fn known_includes_a_detached_grandchild(connector: bool) {
    let h = Harness::start(connector);
    // Without the connector (not asked for, or refused here, inside a pid namespace say) the
    // poller must see the middle process before it exits.
    let exact = connector && h.has_connector("detached grandchild in 50 ms");
    let linger = if exact { "0.05" } else { "2" };
    let mut g = Group::spawn(python3(), &["-c", DETACHING, linger]);
    h.probe.watch("detacher", g.pid());
    let grandchild: u32 = g.line().parse().unwrap();
    g.extra.push(pidfd_of(grandchild));
    assert_eq!(g.line(), "parent gone");
    // The probe thread may still be catching up with the fork and exit it was told about.
    let deadline = Instant::now() + WAIT;
    let mut known = h.probe.known("detacher");
    while !known.iter().any(|k| k.pid == grandchild) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        known = h.probe.known("detacher");
    }
    assert!(known.iter().any(|k| k.pid == g.pid()), "leader listed: {known:?}");
    assert!(known.iter().any(|k| k.pid == grandchild), "detached grandchild listed: {known:?}");
    assert!(known.iter().all(|k| k.start_time > 0));
    // And after the node's leader is gone and the node unwatched, it is still listed.
    h.probe.unwatch("detacher");
    let known = h.probe.known("detacher");
    assert!(known.iter().any(|k| k.pid == grandchild), "still listed after unwatch: {known:?}");
}

#[test]
fn known_includes_a_detached_grandchild_with_connector() {
    known_includes_a_detached_grandchild(true);
}

#[test]
fn known_includes_a_detached_grandchild_polling() {
    known_includes_a_detached_grandchild(false);
}

#[test]
fn probe_mode_is_reported_once() {
    let h = Harness::start(true);
    let (mode, detail) = h.mode();
    assert!(!detail.is_empty());
    assert_eq!(h.probe.mode(), Some(mode));
    std::thread::sleep(Duration::from_millis(300));
    let n = h.events.lock().unwrap().iter().filter(|e| matches!(e, EventKind::ProbeMode { .. })).count();
    assert_eq!(n, 1);
    let off = Harness::start(false);
    assert_eq!(off.mode().0, ProbeMode::Polling);
}

#[test]
fn usage_of_a_busy_tree() {
    let h = Harness::start(true);
    let g = Group::python("import time\nend = time.time() + 30\nwhile time.time() < end: pass");
    h.probe.watch("busy", g.pid());
    h.wait_for("Usage showing a busy core", |evs| {
        evs.iter().find(|e| matches!(e, EventKind::Usage { node, cpu_permille, rss_kib } if node == "busy" && *cpu_permille > 50 && *rss_kib > 0)).map(|_| ())
    });
}

#[test]
fn exits_are_reported_with_their_status() {
    let h = Harness::start(true);
    if !h.has_connector("exit status") {
        return;
    }
    let exits: Arc<Mutex<Vec<ProcExit>>> = Arc::new(Mutex::new(Vec::new()));
    let exits_sink = exits.clone();
    let sink = exits.clone();
    let exits_of = |exits: &Mutex<Vec<ProcExit>>, pid: u32| exits.lock().unwrap().iter().any(|e| e.pid == pid);
    h.probe.on_exit(Box::new(move |e| sink.lock().unwrap().push(e)));
    let mut g = Group::spawn("sh", &["-c", "sleep 0.5; exit 3"]);
    h.probe.watch("three", g.pid());
    let status = g.child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    h.wait_for("ProcGone of the leader", |evs| {
        evs.iter().find(|e| matches!(e, EventKind::ProcGone { pid, .. } if *pid == g.pid())).map(|_| ())
    });
    // Every watched process's exit is reported (the shell's `sleep` too): wait for the shell's.
    let deadline = Instant::now() + WAIT;
    while !exits.lock().unwrap().iter().any(|e| e.pid == g.pid()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let exits = exits.lock().unwrap();
    let e = exits.iter().find(|e| e.pid == g.pid()).expect("exit reported");
    assert_eq!((e.node.as_str(), e.code, e.signal), ("three", Some(3), None));
    let sleep = exits.iter().find(|e| e.pid != g.pid()).expect("the sleep's exit reported too");
    assert_eq!((sleep.code, sleep.signal), (Some(0), None));
    drop(exits);
    // Killed by a signal.
    let mut k = Group::spawn("sleep", &["60"]);
    h.probe.watch("killed", k.pid());
    h.sample_where("the sleep sampled", k.pid(), |_| true);
    k.child.kill().unwrap();
    k.child.wait().unwrap();
    let deadline = Instant::now() + WAIT;
    while !exits_of(&exits_sink, k.pid()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let exits = exits_sink.lock().unwrap();
    let e = exits.iter().find(|e| e.pid == k.pid()).expect("exit by signal reported");
    assert_eq!((e.node.as_str(), e.code, e.signal), ("killed", None, Some(Signal::KILL)));
}

#[test]
fn a_client_reported_fork_is_resolved() {
    let h = Harness::start(false);
    let mut g = Group::python(THREADED_FORK);
    h.probe.watch("client", g.pid());
    let child: u32 = g.line().parse().unwrap();
    h.probe.fork_seen(
        "client",
        gracewatch::event::ForkSeen {
            parent_pid: g.pid(),
            child_pid: child,
            threads: 4,
            runtime: Some(true),
            source: ForkSource::Client,
            client_tids: Vec::new(),
        },
    );
    h.wait_for("ForkResolved of the client's fork", |evs| {
        evs.iter().find(|e| matches!(e, EventKind::ForkResolved { child_pid, execd: false, threaded: true, .. } if *child_pid == child)).map(|_| ())
    });
}

/// DESIGN: a helper thread still alive at the fork but gone moments later does not make the
/// fork a threaded one.
#[test]
fn a_helper_thread_that_dies_right_after_the_fork_does_not_count() {
    let h = Harness::start(true);
    let mut g = Group::python(
        r"
import os, threading, time
time.sleep(0.5)
threading.Thread(target=time.sleep, args=(0.02,)).start()
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
print(pid, flush=True)
time.sleep(60)
",
    );
    h.probe.watch("joiner", g.pid());
    let child: u32 = g.line().parse().unwrap();
    let s = h.sample_where("child listed", g.pid(), |s| s.children.iter().any(|c| c.pid == child));
    assert!(s.children.iter().any(|c| c.pid == child && !c.execd));
    let announced =
        h.events.lock().unwrap().iter().any(|e| matches!(e, EventKind::Fork { fork, .. } if fork.child_pid == child));
    if announced {
        // Seen at the fork with its helper: resolved as not threaded once the helper is gone.
        h.wait_for("ForkResolved not threaded", |evs| {
            evs.iter()
                .find(|e| matches!(e, EventKind::ForkResolved { child_pid, execd: false, threaded: false, .. } if *child_pid == child))
                .map(|_| ())
        });
    }
    std::thread::sleep(Duration::from_millis(300));
    let evs = h.events.lock().unwrap();
    assert!(
        !evs.iter()
            .any(|e| matches!(e, EventKind::ForkResolved { child_pid, threaded: true, .. } if *child_pid == child)),
        "{evs:#?}"
    );
}

/// Asks the kernel itself, from Python, whether it answers a process-events subscription
/// here: "acked", "silent" (inside a pid namespace the kernel ignores the request, though the
/// events other listeners asked for still arrive) or "refused: ERR".
const KERNEL_ANSWERS: &str = r#"
import os, select, socket, struct, time
try:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)
    s.bind((0, 1))
except OSError as e:
    print("refused:", e); raise SystemExit
nonce = (os.getpid() << 8) | 1
cn = struct.pack("=IIIIHH", 1, 1, 0, nonce, 4, 0) + struct.pack("=I", 1)
s.send(struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn)
deadline = time.time() + 2
while time.time() < deadline:
    if not select.select([s], [], [], 0.1)[0]:
        continue
    d = s.recv(65536)
    ack, = struct.unpack_from("=I", d, 28)
    what, = struct.unpack_from("=I", d, 36)
    if what == 0 and ack == nonce + 1:
        print("acked"); raise SystemExit
print("silent")
"#;

/// The probe uses the connector exactly where the kernel answers it: a probe that silently
/// polled on a machine that has the connector would pass every test above (they accept
/// polling where it is refused), and one that trusted a silent kernel would watch the wrong
/// pids.
#[test]
fn the_probe_uses_the_connector_exactly_where_the_kernel_answers() {
    let out = Command::new(python3()).args(["-c", KERNEL_ANSWERS]).output().unwrap();
    let kernel = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "{out:?}");
    let (mode, detail) = Harness::start(true).mode();
    eprintln!("kernel: {kernel}; probe: {mode:?} ({detail})");
    if kernel == "acked" {
        assert_eq!(mode, ProbeMode::Connector, "{detail}");
    } else {
        assert_eq!(mode, ProbeMode::Polling, "kernel said {kernel}; probe: {detail}");
        let why = if kernel == "silent" { "did not acknowledge" } else { "refused" };
        assert!(detail.contains(why), "kernel said {kernel}; probe: {detail}");
    }
}
