//! `gracewatch replay` on a real terminal (a pseudo-terminal read through a terminal
//! emulator): it draws the replay, answers keys, and gives the terminal back after `q`, SIGTERM
//! and SIGHUP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

fn spawn(args: &[&str]) -> Pty {
    let pair = native_pty_system().openpty(PtySize { rows: 30, cols: 120, pixel_width: 0, pixel_height: 0 }).unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gracewatch"));
    cmd.arg("replay");
    cmd.args(args);
    cmd.cwd(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay"));
    cmd.env("TERM", "xterm-256color");
    cmd.env("NO_COLOR", "1");
    let child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let writer = pair.master.take_writer().unwrap();
    let screen = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZeroU16::new(30).unwrap(),
        std::num::NonZeroU16::new(120).unwrap(),
        0,
    )));
    let sink = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().process(&buf[..n]);
        }
    });
    std::mem::forget(pair.master);
    Pty { screen, writer, child }
}

impl Pty {
    fn wait_for(&self, what: &str, pred: impl Fn(&vt100::Screen) -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if pred(self.screen.lock().unwrap().screen()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.screen.lock().unwrap().screen().contents());
    }

    fn type_keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = self.child.process_id().unwrap();
        rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), sig).unwrap();
    }

    /// Waits for the exit; checks the terminal was given back.
    fn finish(mut self) -> bool {
        let status = self.child.wait().unwrap();
        self.wait_for("the main screen", |s| !s.alternate_screen());
        let s = self.screen.lock().unwrap();
        let screen = s.screen();
        assert!(!screen.hide_cursor(), "cursor still hidden");
        assert_eq!(screen.mouse_protocol_mode(), vt100::MouseProtocolMode::None, "mouse still captured");
        status.success()
    }
}

fn on_replay(s: &vt100::Screen) -> bool {
    s.alternate_screen() && s.contents().contains("REPLAY stops.jsonl")
}

#[test]
fn replay_draws_answers_keys_and_q_gives_the_terminal_back() {
    let mut pty = spawn(&["stops.jsonl", "--at", "2.6s", "--speed", "0.25"]);
    pty.wait_for("the replay", on_replay);
    pty.wait_for("playing at 0.25x from 2.6s", |s| s.contents().contains("▶ 0.25x") && s.contents().contains("+2.6"));
    pty.type_keys(" ");
    pty.wait_for("the pause", |s| s.contents().contains("❚❚ 0.25x"));
    pty.type_keys("G");
    pty.wait_for("the end", |s| s.contents().contains(" +8.764s ├"));
    pty.type_keys("K");
    pty.wait_for("the refusal", |s| s.contents().contains("stop actions are disabled"));
    pty.type_keys("q");
    assert!(pty.finish());
}

#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    for sig in [rustix::process::Signal::TERM, rustix::process::Signal::HUP] {
        let pty = spawn(&["stops.jsonl"]);
        pty.wait_for("the replay", on_replay);
        pty.signal(sig);
        assert!(pty.finish(), "{sig:?}");
    }
}
