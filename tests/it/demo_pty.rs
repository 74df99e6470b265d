//! `gracewatch demo` in a real terminal, driven the way a person would: the real binary runs
//! in a pseudo-terminal, keys are typed at it and its screen is read through a terminal
//! emulator (vt100). Select a node, `s`, confirm, watch its countdown and its exit cause; then
//! `S`, confirm, every node stops, the final table stays until `q`, and the terminal is given
//! back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::pty_support;
use pty_support::{Pty, row_of};

#[test]
fn stop_one_node_watch_its_countdown_then_stop_all_and_get_the_terminal_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Pty::gracewatch(&["demo", "--journal", "journal.jsonl"], dir.path(), 45, 160);
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
    demo.wait_for("the stop-all confirm line", |s| {
        s.contents().contains("Stop all 6 nodes, each after those that depend on it")
    });
    demo.keys("y");
    // The end stays on screen, where it happened, until `q`.
    demo.wait_for("the final table", |s| {
        let text = s.contents();
        text.contains("all nodes stopped — q to quit") && text.contains("7 exited") && text.contains("ENDED")
    });
    assert!(demo.child.try_wait().unwrap().is_none(), "left before q:\n{}", demo.contents());
    for (node, how) in [("slow_receiver", "killed-at-deadline"), ("steady", "stopped"), ("forker", "stopped")] {
        let row = demo.row(node);
        assert!(row.contains(how), "{node}: {row}");
    }
    demo.keys("q");
    let status = demo.wait_exit();
    // A node was killed at its deadline: the session did not end cleanly.
    assert_eq!(status, 1, "{}", demo.contents());
    demo.wait_for("the summary on the main screen", |s| s.contents().contains("gracewatch: journal"));
    demo.assert_terminal_restored();
    let text = demo.contents();
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

#[test]
fn after_a_stop_all_under_up_the_final_table_stays_until_q() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gracewatch.toml"),
        "name = \"final\"\n[nodes.first]\ncmd = \"sleep 1000\"\n[nodes.second]\ncmd = \"sleep 1001\"\n",
    )
    .unwrap();
    let mut up = Pty::gracewatch(&["up", "--journal", "journal.jsonl"], dir.path(), 30, 120);
    up.wait_for("the cockpit with both nodes running", |s| s.alternate_screen() && s.contents().contains("2 running"));
    up.keys("S");
    up.wait_for("the stop-all confirm line", |s| s.contents().contains("Stop all 2 nodes"));
    up.keys("y");
    up.wait_for("the final table", |s| {
        let text = s.contents();
        s.alternate_screen() && text.contains("all nodes stopped — q to quit") && text.contains("2 exited")
    });
    // Still there a moment later: nothing but `q` ends it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(up.child.try_wait().unwrap().is_none(), "left before q:\n{}", up.contents());
    let text = up.contents();
    assert!(up.row("first").contains("stopped") && up.row("second").contains("stopped"), "{text}");
    assert!(text.contains("ENDED") && !text.contains("session closed"), "{text}");
    up.keys("q");
    assert_eq!(up.wait_exit(), 0, "{}", up.contents());
    up.wait_for("the summary on the main screen", |s| s.contents().contains("gracewatch: journal"));
    up.assert_terminal_restored();
    let text = up.contents();
    assert!(text.contains("gracewatch: first: stopped") && text.contains("gracewatch: second: stopped"), "{text}");
}
