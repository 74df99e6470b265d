//! `gracewatch demo` in a real terminal, driven the way a person would: the real binary runs
//! in a pseudo-terminal, keys are typed at it and its screen is read through a terminal
//! emulator (vt100). Select a node, `s`, confirm, watch its countdown and its exit cause; then
//! `S`, confirm, every node stops, gracewatch exits and the terminal is given back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROWS: u16 = 45;
const COLS: u16 = 160;
/// Generous: machines are shared and noisy. The test waits for screens, never times them.
const PATIENCE: Duration = Duration::from_secs(30);

struct Demo {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _dir: tempfile::TempDir,
}

impl Demo {
    fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        let pair =
            native_pty_system().openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 }).unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gracewatch"));
        cmd.args(["demo", "--journal", "journal.jsonl"]);
        cmd.cwd(dir.path());
        cmd.env("TERM", "xterm-256color");
        cmd.env("TMPDIR", dir.path());
        cmd.env("XDG_RUNTIME_DIR", dir.path().join("run"));
        cmd.env("XDG_STATE_HOME", dir.path().join("state"));
        cmd.env_remove("GRACEWATCH_SOCKET");
        cmd.env_remove("GRACEWATCH_NODE");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(ROWS).unwrap(),
            std::num::NonZeroU16::new(COLS).unwrap(),
            0,
        )));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        // Keep the master open for the child's lifetime.
        std::mem::forget(pair.master);
        Demo { screen, writer, child, _dir: dir }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&vt100::Screen) -> bool) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if pred(self.screen.lock().unwrap().screen()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.contents());
    }

    fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// The table row of `node` (its first line on screen).
    fn row(&self, node: &str) -> String {
        let needle = format!("{node} ");
        self.contents().lines().find(|l| l.contains(&needle) && l.starts_with('│')).unwrap_or_default().to_string()
    }

    /// Moves the selection down until `node`'s row carries the selection marker.
    fn select(&mut self, node: &str) {
        for _ in 0..10 {
            if self.row(node).contains(&format!("›{node}")) {
                return;
            }
            let before = self.contents();
            self.keys("j");
            let start = Instant::now();
            while self.contents() == before && start.elapsed() < Duration::from_secs(2) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not select {node}; screen:\n{}", self.contents());
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn row_of(s: &vt100::Screen, node: &str) -> String {
    let needle = format!("{node} ");
    s.contents().lines().find(|l| l.contains(&needle) && l.starts_with('│')).unwrap_or_default().to_string()
}

#[test]
fn stop_one_node_watch_its_countdown_then_stop_all_and_get_the_terminal_back() {
    let mut demo = Demo::start();
    demo.wait_for("the cockpit with all seven nodes running", |s| {
        s.alternate_screen() && s.contents().contains("nodes (7)") && s.contents().contains("7 running")
    });
    // The slow receiver holds a backlog of frames after ~3.5 s: its stop cannot drain it.
    demo.wait_for("the slow receiver's backlog", |s| {
        row_of(s, "slow_receiver")
            .split_whitespace()
            .nth(8)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 20)
    });
    // Each failure is on screen before anyone stops anything.
    demo.wait_for("the hazards of the failures", |s| {
        row_of(s, "main_thread_only").contains("stop-signal-default")
            && row_of(s, "import_time").contains("handler-install-failed")
            && row_of(s, "forker").contains("fork-without-exec-threaded")
    });

    demo.select("slow_receiver");
    demo.keys("s");
    demo.wait_for("the confirm line with the plan", |s| {
        s.contents().contains("Stop slow_receiver: stop message → SIGTERM @2s → SIGKILL @5s")
    });
    demo.keys("y");
    demo.wait_for("its countdown", |s| {
        let row = row_of(s, "slow_receiver");
        row.contains("stopping") && (row.contains('█') || row.contains('░')) && row.contains("kill")
    });
    demo.wait_for("tokens-stuck once the stop signal is out", |s| row_of(s, "slow_receiver").contains("tokens-stuck"));
    demo.wait_for("its exit cause", |s| row_of(s, "slow_receiver").contains("killed-at-deadline"));
    let row = demo.row("slow_receiver");
    assert!(row.contains("SIGKILL after"), "{row}");

    demo.keys("S");
    demo.wait_for("the stop-all confirm line", |s| s.contents().contains("Stop all 6 nodes, dependents first"));
    demo.keys("y");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < PATIENCE, "gracewatch did not exit; screen:\n{}", demo.contents());
        std::thread::sleep(Duration::from_millis(20));
    };
    // A node was killed at its deadline: the session did not end cleanly.
    assert_eq!(status.exit_code(), 1, "{}", demo.contents());
    demo.wait_for("the summary on the main screen", |s| s.contents().contains("gracewatch: journal"));
    let parser = demo.screen.lock().unwrap();
    let screen = parser.screen();
    assert!(!screen.alternate_screen(), "still on the alternate screen");
    assert!(!screen.hide_cursor(), "cursor still hidden");
    assert_eq!(screen.mouse_protocol_mode(), vt100::MouseProtocolMode::None, "mouse still captured");
    let text = screen.contents();
    for line in [
        "gracewatch: import_time: stopped",
        "gracewatch: no_signals: stopped",
        "gracewatch: slow_receiver: killed-at-deadline",
        "gracewatch: main_thread_only: stopped",
        "gracewatch: forker: stopped",
        "gracewatch: well_behaved: stopped",
        "gracewatch: steady: stopped",
    ] {
        assert!(text.contains(line), "no {line:?} in:\n{text}");
    }
}
