//! `gracewatch attach` in a real terminal, on a real headless supervisor: the cockpit shows
//! its nodes, stops one, detaches with `q` leaving the supervisor running; and when the
//! supervisor dies under it, it says so, offers to reconnect, and gives the terminal back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::pty_support;
use common::*;
use pty_support::{Pty, row_of};

const MANIFEST: &str = "name = \"att\"\n[nodes.sleeper]\ncmd = \"sleep 1000\"\n[nodes.other]\ncmd = \"sleep 1001\"\n";

#[test]
fn attach_stops_a_node_and_q_detaches_leaving_the_supervisor_running() {
    let gw = Gw::up(MANIFEST);
    let mut tui = Pty::gracewatch(&["attach", "--session", "att"], gw.dir.path(), 30, 120);
    tui.wait_for("the cockpit with both nodes running", |s| {
        s.alternate_screen() && s.contents().contains("2 running") && row_of(s, "sleeper").contains("running")
    });
    tui.select("sleeper");
    tui.keys("s");
    tui.wait_for("the confirm line", |s| s.contents().contains("Stop sleeper: SIGTERM"));
    tui.keys("y");
    tui.wait_for("sleeper stopped", |s| row_of(s, "sleeper").contains("stopped"));
    tui.keys("q");
    assert_eq!(tui.wait_exit(), 0, "{}", tui.contents());
    tui.assert_terminal_restored();
    // Detaching is not stopping: the supervisor and the other node carry on.
    assert_eq!(gw.node("other")["state"], "running");
    assert_eq!(gw.node("sleeper")["exit"]["cause"], "stopped");
}

#[test]
fn when_the_supervisor_dies_attach_says_so_and_gives_the_terminal_back() {
    let mut gw = Gw::up(MANIFEST);
    let mut tui = Pty::gracewatch(&["attach", "--session", "att"], gw.dir.path(), 30, 120);
    tui.wait_for("the cockpit", |s| s.alternate_screen() && s.contents().contains("2 running"));
    let pid = gw.pid();
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::KILL)
        .unwrap();
    let _ = gw.wait_exit();
    tui.wait_for("the session-closed notice with a reconnect offer", |s| {
        let text = s.contents();
        text.contains("The session closed") && text.contains("reconnect")
    });
    tui.keys("q");
    tui.wait_exit();
    tui.assert_terminal_restored();
}

#[test]
fn attach_without_a_terminal_says_it_needs_one_and_what_to_use_instead() {
    let gw = Gw::up(MANIFEST);
    // Standard input and output are pipes here, as in a script or under `| less`.
    let out = gw.command(&["attach", "--session", "att"]).stdin(std::process::Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("attach needs a terminal"), "{err}");
    assert!(
        err.contains("gracewatch ps --session att`") && err.contains("gracewatch ps --session att --json`"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
    assert!(out.stdout.is_empty(), "nothing drawn: {:?}", String::from_utf8_lossy(&out.stdout));
    // The session is untouched.
    assert_ne!(gw.node("sleeper")["state"], "exited");
}
