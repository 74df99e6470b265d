//! `tui::run` on a real terminal: this test binary re-runs itself inside a pseudo-terminal
//! as the cockpit (the `cockpit_in_a_pty` test, which does nothing unless asked to), and the
//! outer tests type at it and read its screen through a terminal emulator. Checks that the
//! cockpit draws, answers keys, and always gives the terminal back: after `q`, after SIGTERM,
//! and after a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use crate::pty_support;
use gracewatch::control::link::{LinkKind, SessionLink, Update};
use gracewatch::tui::{TuiOptions, run};
use portable_pty::CommandBuilder;
use pty_support::Pty;

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
            state: tui_support::mid_stop().state.into_state(),
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

fn spawn(mode: &str, no_color: bool) -> Pty {
    let mut cmd = CommandBuilder::new(std::env::current_exe().unwrap());
    // The test's name in this binary: its module path without the crate's name.
    let name = concat!(module_path!(), "::cockpit_in_a_pty").split_once("::").unwrap().1;
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    cmd.env(CHILD, mode);
    if no_color {
        cmd.env("NO_COLOR", "1");
    } else {
        cmd.env_remove("NO_COLOR");
    }
    cmd.env("RUST_BACKTRACE", "0");
    Pty::spawn(cmd, 30, 120)
}

/// Waits for the cockpit's process to end and print its outcome; checks the terminal was given
/// back. The screen's text and whether it succeeded.
fn finish(mut pty: Pty) -> (String, bool) {
    let status = pty.wait_exit();
    pty.wait_for("the final line", |s| s.contents().contains("EXIT"));
    pty.assert_terminal_restored();
    (pty.contents(), status == 0)
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
    pty.keys("js");
    pty.wait_for("the confirm line", |s| s.contents().contains("Stop detector:"));
    pty.keys("y");
    pty.wait_for("the prompt to close", |s| !s.contents().contains("Stop detector:"));
    pty.keys("q");
    let (text, ok) = finish(pty);
    assert!(ok, "{text}");
    assert!(text.contains("EXIT Ok(Detached)"), "{text}");
    assert!(text.contains("targets: Nodes([\"detector\"])"), "{text}");
}

#[test]
fn sigterm_gives_the_terminal_back() {
    let pty = spawn("sigterm", false);
    pty.wait_for("the cockpit", on_cockpit);
    assert!(coloured_cells(pty.screen.lock().unwrap().screen()) > 0, "colour when NO_COLOR is not set");
    let pid = pty.child.process_id().unwrap();
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::TERM)
        .unwrap();
    let (text, _) = finish(pty);
    assert!(text.contains("EXIT Ok(Terminated(Signal(15)))"), "{text}");
}

#[test]
fn a_panic_gives_the_terminal_back_and_its_message_is_readable() {
    let mut pty = spawn("panic", true);
    pty.wait_for("the closed-link screen", |s| s.alternate_screen() && s.contents().contains("session closed"));
    pty.keys("r");
    let status = pty.child.wait().unwrap();
    assert!(!status.success());
    pty.wait_for("the panic message", |s| s.contents().contains("reconnect exploded on purpose"));
    let s = pty.screen.lock().unwrap();
    assert!(!s.screen().alternate_screen(), "still on the alternate screen after a panic");
    assert!(!s.screen().hide_cursor(), "cursor still hidden after a panic");
}
