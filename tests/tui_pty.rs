//! `tui::run` on a real terminal: this test binary re-runs itself inside a pseudo-terminal
//! as the cockpit (the `cockpit_in_a_pty` test, which does nothing unless asked to), and the
//! outer tests type at it and read its screen through a terminal emulator. Checks that the
//! cockpit draws, answers keys, and always gives the terminal back: after `q`, after SIGTERM,
//! and after a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tui_support;

use gracewatch::control::link::{LinkKind, SessionLink, Update};
use gracewatch::tui::{TuiOptions, run};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD: &str = "GRACEWATCH_TUI_PTY_CHILD";

/// The cockpit side: only runs when the outer test started this binary in a pty.
#[test]
fn cockpit_in_a_pty() {
    let Ok(mode) = std::env::var(CHILD) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let (up_tx, up_rx) = tokio::sync::mpsc::channel(16);
        let (req_tx, mut req_rx) = tokio::sync::mpsc::channel(16);
        let link = SessionLink {
            kind: LinkKind::Attached { socket: "/nonexistent.sock".into() },
            state: tui_support::mid_stop().state,
            updates: up_rx,
            requests: req_tx,
        };
        let mut opts = TuiOptions { now: Some(Box::new(|| tui_support::MID_STOP_NOW)), ..TuiOptions::default() };
        if mode == "panic" {
            up_tx.send(Update::Closed("bye".into())).await.unwrap();
            opts.reconnect = Some(Box::new(|| panic!("reconnect exploded on purpose")));
        }
        let exit = run(link, opts).await;
        let sent = req_rx.try_recv().ok();
        // Back on the normal screen: say how it ended, for the outer test to read.
        println!("EXIT {exit:?} SENT {sent:?}");
        drop(up_tx);
    });
}

struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

fn spawn(mode: &str, no_color: bool) -> Pty {
    let pair = native_pty_system().openpty(PtySize { rows: 30, cols: 120, pixel_width: 0, pixel_height: 0 }).unwrap();
    let mut cmd = CommandBuilder::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "cockpit_in_a_pty", "--nocapture", "--test-threads=1"]);
    cmd.env(CHILD, mode);
    cmd.env("TERM", "xterm-256color");
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    cmd.env("RUST_BACKTRACE", "0");
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
    // Keep the master open for the child's lifetime.
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

    fn finish(mut self) -> (String, bool) {
        let status = self.child.wait().unwrap();
        self.wait_for("the final line", |s| s.contents().contains("EXIT"));
        let s = self.screen.lock().unwrap();
        let screen = s.screen();
        // Terminal given back: main screen, cursor shown, no mouse reporting.
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "cursor still hidden");
        assert_eq!(screen.mouse_protocol_mode(), vt100::MouseProtocolMode::None, "mouse still captured");
        (screen.contents(), status.success())
    }
}

/// Cells with a colour other than the terminal's default.
fn coloured_cells(s: &vt100::Screen) -> usize {
    let (rows, cols) = s.size();
    let mut n = 0;
    for r in 0..rows.get() {
        for c in 0..cols.get() {
            if let Some(cell) = s.cell(r, c) {
                if cell.fgcolor() != vt100::Color::Default || cell.bgcolor() != vt100::Color::Default {
                    n += 1;
                }
            }
        }
    }
    n
}

fn on_cockpit(s: &vt100::Screen) -> bool {
    s.alternate_screen() && s.contents().contains("nodes (6)")
}

#[test]
fn q_detaches_and_gives_the_terminal_back() {
    let mut pty = spawn("quit", true);
    pty.wait_for("the cockpit", on_cockpit);
    assert!(pty.screen.lock().unwrap().screen().contents().contains("stopping"));
    assert_eq!(coloured_cells(pty.screen.lock().unwrap().screen()), 0, "NO_COLOR is set: no colour at all");
    // Select detector and stop it: the request goes out; then detach.
    pty.type_keys("js");
    pty.wait_for("the confirm line", |s| s.contents().contains("Stop detector:"));
    pty.type_keys("y");
    pty.wait_for("the prompt to close", |s| !s.contents().contains("Stop detector:"));
    pty.type_keys("q");
    let (text, ok) = pty.finish();
    assert!(ok, "{text}");
    assert!(text.contains("EXIT Ok(Detached)"), "{text}");
    assert!(text.contains("nodes: [\"detector\"]"), "{text}");
}

#[test]
fn sigterm_gives_the_terminal_back() {
    let pty = spawn("sigterm", false);
    pty.wait_for("the cockpit", on_cockpit);
    assert!(coloured_cells(pty.screen.lock().unwrap().screen()) > 0, "colour when NO_COLOR is not set");
    let pid = pty.child.process_id().unwrap();
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::TERM)
        .unwrap();
    let (text, _) = pty.finish();
    assert!(text.contains("EXIT Ok(Terminated(Signal(15)))"), "{text}");
}

#[test]
fn a_panic_gives_the_terminal_back_and_its_message_is_readable() {
    let mut pty = spawn("panic", true);
    pty.wait_for("the closed-link screen", |s| s.alternate_screen() && s.contents().contains("session closed"));
    pty.type_keys("r");
    let status = pty.child.wait().unwrap();
    assert!(!status.success());
    pty.wait_for("the panic message", |s| s.contents().contains("reconnect exploded on purpose"));
    let s = pty.screen.lock().unwrap();
    assert!(!s.screen().alternate_screen(), "still on the alternate screen after a panic");
    assert!(!s.screen().hide_cursor(), "cursor still hidden after a panic");
}
