#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Helpers for tests that run the real `gracewatch` binary against real processes.
//! Every run gets its own runtime and state directories, so tests never see each other.

#![allow(dead_code)]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gracewatch");

/// Generous: machines are shared and noisy. Tests wait for conditions, never time them.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Gw {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub session: String,
}

impl Gw {
    /// A directory with the manifest written, nothing started.
    pub fn prepare(manifest: &str) -> Gw {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("run")).expect("run dir");
        std::fs::write(dir.path().join("gracewatch.toml"), manifest).expect("manifest");
        let session = manifest
            .lines()
            .find_map(|l| l.strip_prefix("name = ").map(|n| n.trim_matches('"').to_string()))
            .unwrap_or_else(|| dir.path().file_name().unwrap().to_string_lossy().into_owned());
        Gw { dir, child: None, session }
    }

    /// Starts `gracewatch up --headless` and waits until its control socket answers.
    pub fn up(manifest: &str) -> Gw {
        let mut gw = Gw::prepare(manifest);
        gw.start(&["up", "--headless", "--journal", "journal.jsonl"]);
        gw
    }

    /// Starts `gracewatch watch ARGS --journal journal.jsonl` (headless: stdout is a pipe) and
    /// waits for its control socket.
    pub fn watch(args: &[&str]) -> Gw {
        let mut gw = Gw::prepare("");
        let mut all: Vec<&str> = vec!["watch"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--journal", "journal.jsonl"]);
        let (out, err) = gw.output_log();
        let child = gw.command(&all).stdout(out).stderr(err).spawn().expect("spawn gracewatch watch");
        gw.session = format!("watch-{}", child.id());
        gw.child = Some(child);
        gw.wait_for(|gw| gw.try_ps().is_some(), "the watch's control socket to answer");
        gw
    }

    /// Starts `gracewatch demo --headless`, unpacking into this run's own temporary directory;
    /// its output goes to `out.log` (a long run would fill a pipe nobody reads).
    pub fn demo() -> Gw {
        let mut gw = Gw::prepare("name = \"demo\"\n");
        let (log, err) = gw.output_log();
        let child = gw
            .command(&["demo", "--headless", "--journal", "journal.jsonl"])
            .env("TMPDIR", gw.dir.path())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn gracewatch demo");
        gw.child = Some(child);
        gw.wait_for(|gw| gw.try_ps().is_some(), "the demo's control socket to answer");
        gw
    }

    /// gracewatch's standard output and error, both to `out.log`: a file, because a pipe that
    /// nobody reads until the end would stop a chatty supervisor once it is full.
    pub fn output_log(&self) -> (std::fs::File, std::fs::File) {
        let log = std::fs::File::create(self.path("out.log")).expect("out.log");
        let err = log.try_clone().expect("out.log");
        (log, err)
    }

    /// What gracewatch printed so far (standard output and error).
    pub fn printed(&self) -> String {
        std::fs::read_to_string(self.path("out.log")).unwrap_or_default()
    }

    /// Starts `gracewatch ARGS` and waits until its control socket answers.
    pub fn start(&mut self, args: &[&str]) {
        self.spawn(self.command(args));
        self.wait_for(|gw| gw.try_ps().is_some(), "the control socket to answer");
    }

    /// Spawns `cmd` as this run's gracewatch (or whatever execs it), its output to `out.log`.
    pub fn spawn(&mut self, mut cmd: Command) {
        let (out, err) = self.output_log();
        self.child = Some(cmd.stdout(out).stderr(err).spawn().expect("spawn gracewatch"));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A `gracewatch` command with this run's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_for(BIN, args)
    }

    /// `program ARGS` with this run's environment (for a program that execs gracewatch).
    pub fn command_for(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .current_dir(self.dir.path())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env_remove("GRACEWATCH_SOCKET")
            .env_remove("GRACEWATCH_NODE");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run gracewatch")
    }

    pub fn try_ps(&self) -> Option<serde_json::Value> {
        let out = self.run(&["ps", "--json", "--session", &self.session]);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    pub fn ps(&self) -> serde_json::Value {
        self.try_ps().expect("ps --json")
    }

    /// The ps entry of a node.
    /// The pid of a node's leader, from `ps --json`.
    pub fn node_pid(&self, name: &str) -> u32 {
        self.node(name)["pid"].as_u64().expect("a pid") as u32
    }

    pub fn node(&self, name: &str) -> serde_json::Value {
        let ps = self.ps();
        ps["nodes"]
            .as_array()
            .and_then(|a| a.iter().find(|n| n["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no node {name} in {ps}"))
    }

    /// Polls until `cond` holds; panics with `what` after [`PATIENCE`].
    pub fn wait_for(&self, mut cond: impl FnMut(&Gw) -> bool, what: &str) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if cond(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}\n{}", self.post_mortem(None));
    }

    /// Waits for gracewatch to exit and returns its output.
    pub fn wait_exit(&mut self) -> Output {
        self.wait_exit_within(PATIENCE)
    }

    /// Waits for gracewatch to exit, for at most `patience` (then kills it and panics with a
    /// post-mortem).
    pub fn wait_exit_within(&mut self, patience: Duration) -> Output {
        let child = self.child.take().expect("running");
        let start = Instant::now();
        let pid = child.id();
        loop {
            if !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid) {
                break;
            }
            if start.elapsed() >= patience {
                let mut child = child;
                let _ = child.kill();
                let out = child.wait_with_output();
                panic!("gracewatch did not exit\n{}", self.post_mortem(out.as_ref().ok()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("wait")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Every event of the journal, parsed.
    pub fn journal(&self) -> Vec<gracewatch::event::Event> {
        match gracewatch::journal::read_all(&self.path("journal.jsonl")) {
            Ok((events, _)) => events,
            // Created, header not flushed yet.
            Err(gracewatch::journal::JournalError::Empty(_)) => Vec::new(),
            Err(e) => panic!("journal: {e}"),
        }
    }
}

impl Gw {
    /// Everything that tells why a session ended the way it did, for a failing assertion: how
    /// gracewatch exited and what it printed, what the journal holds (its last records, a torn
    /// tail), and gracewatch's own log.
    pub fn post_mortem(&self, exit: Option<&Output>) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        if let Some(exit) = exit {
            let _ = writeln!(out, "gracewatch exited: {}", exit.status);
        }
        let _ = writeln!(out, "--- what gracewatch printed ---\n{}", self.printed());
        let path = self.path("journal.jsonl");
        let free = rustix::fs::statvfs(self.dir.path()).map_or_else(
            |e| format!("unknown ({e})"),
            |s| format!("{} MB", s.f_bavail.saturating_mul(s.f_frsize) / 1_000_000),
        );
        let _ = writeln!(
            out,
            "--- journal: {} bytes; free space there: {free} ---",
            std::fs::metadata(&path).map_or(0, |m| m.len())
        );
        match gracewatch::journal::read_all(&path) {
            Ok((events, summary)) => {
                let _ = writeln!(out, "{} events read, {summary:?}; the last ones:", events.len());
                for e in events.iter().rev().take(25).rev() {
                    let _ = writeln!(out, "  {} {:>12} {:?}", e.seq, e.t, e.ev);
                }
            }
            Err(e) => {
                let _ = writeln!(out, "unreadable: {e}");
            }
        }
        if let Ok(raw) = std::fs::read(&path) {
            let tail = &raw[raw.len().saturating_sub(600)..];
            let _ = writeln!(out, "--- the journal's last bytes ---\n{}", String::from_utf8_lossy(tail));
        }
        let log = std::fs::read_to_string(self.path("state/gracewatch/gracewatch.log")).unwrap_or_default();
        let _ = write!(out, "--- gracewatch.log ---\n{log}");
        out
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn is_zombie(pid: u32) -> bool {
    proc_state(pid).is_none_or(|c| c == 'Z')
}

/// The state letter of `/proc/PID/stat` (`S`, `T`, `t`, `Z`, …); `None` once it is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// Is a process with this pid alive (and not a zombie)?
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

/// Pids of live processes whose command line contains `needle`.
pub fn pids_with_arg(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// Children of `pid` whose command line contains `needle`.
pub fn children_with_arg(pid: u32, needle: &str) -> Vec<u32> {
    pids_with_arg(needle)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next()?.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .collect()
}

/// Pids of live processes running `program` (argv[0]) with `arg_prefix` at the start of argv[1].
pub fn pids_running(program: &str, arg_prefix: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                args.first() == Some(&program.as_bytes())
                    && args.get(1).is_some_and(|a| a.starts_with(arg_prefix.as_bytes()))
            })
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// The real python interpreter (`python3` may be a shim that execs through a shell).
pub fn real_python() -> String {
    static PY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().expect("python3");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
    .clone()
}

/// A process the test started and kills when dropped.
pub struct Target(pub Child);

impl Target {
    pub fn python(code: &str, args: &[&str]) -> Target {
        let child = Command::new(real_python())
            .arg("-c")
            .arg(code)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn python");
        Target(child)
    }
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // The whole group: children it forked or started go too.
        if let Some(group) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A unique token to put in command lines, so a test can find its own processes.
///
/// Digits of a fixed width follow `tag`, so one token is never a prefix of another: tests
/// find their processes by an argument's prefix (`pids_running`), and "1000.28351" must not
/// find the "1000.283512" of a test running beside it.
pub fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!("{tag}{:07}{:05}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Python one-liners used as nodes.
pub mod py {
    pub const IGNORES_TERM: &str = "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(1000)";
    pub const HANDLES_TERM: &str = "import signal,sys,time\ndef h(s,f):\n    print('bye', flush=True); sys.exit(0)\nsignal.signal(signal.SIGTERM, h)\nprint('ready', flush=True)\nwhile True: time.sleep(1)";
}

/// A node in Python that speaks the wire protocol by hand (no client library): connects with
/// its environment's secret, then runs `body`, where `send(dict)`, `send_raw(bytes)`,
/// `recv()` (one decoded line or None) and `sock` are available.
pub fn raw_node(body: &str) -> String {
    let prelude = r#"
import json, os, socket, sys, time, signal
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(os.environ["GRACEWATCH_SOCKET"])
rf = sock.makefile("rb")
def send(obj):
    sock.sendall((json.dumps(obj) + "\n").encode())
def send_raw(data):
    sock.sendall(data)
def recv():
    line = rf.readline()
    return json.loads(line) if line else None
SECRET = os.environ.get("GRACEWATCH_SECRET", "")
def hello(secret=None, listens_stop=False):
    send({"type": "hello", "node": os.environ["GRACEWATCH_NODE"], "secret": SECRET if secret is None else secret,
          "pid": os.getpid(), "language": "python-raw", "client_version": "test", "protocol": 1, "listens_stop": listens_stop})
    return recv()
"#;
    format!("{prelude}\n{body}\n")
}

/// A TOML string literal.
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}
