//! `gracewatch replay` on a real terminal (a pseudo-terminal read through a terminal
//! emulator): it draws the replay, answers keys, and gives the terminal back after `q`, SIGTERM
//! and SIGHUP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pty_support;
use portable_pty::CommandBuilder;
use pty_support::Pty;

fn spawn(args: &[&str]) -> Pty {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gracewatch"));
    cmd.arg("replay");
    cmd.args(args);
    cmd.cwd(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay"));
    cmd.env("NO_COLOR", "1");
    Pty::spawn(cmd, 30, 120)
}

/// Waits for the exit; checks the terminal was given back.
fn finish(mut pty: Pty) -> bool {
    let status = pty.wait_exit();
    pty.wait_for("the main screen", |s| !s.alternate_screen());
    pty.assert_terminal_restored();
    status == 0
}

fn on_replay(s: &vt100::Screen) -> bool {
    s.alternate_screen() && s.contents().contains("REPLAY stops.jsonl")
}

#[test]
fn replay_draws_answers_keys_and_q_gives_the_terminal_back() {
    let mut pty = spawn(&["stops.jsonl", "--at", "2.6s", "--speed", "0.25"]);
    pty.wait_for("the replay", on_replay);
    pty.wait_for("playing at 0.25x from 2.6s", |s| s.contents().contains("▶ 0.25x") && s.contents().contains("+2.6"));
    pty.keys(" ");
    pty.wait_for("the pause", |s| s.contents().contains("❚❚ 0.25x"));
    pty.keys("G");
    pty.wait_for("the end", |s| s.contents().contains(" +8.764s ├"));
    pty.keys("K");
    pty.wait_for("the refusal", |s| s.contents().contains("stop actions are disabled"));
    pty.keys("q");
    assert!(finish(pty));
}

#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    for sig in [rustix::process::Signal::TERM, rustix::process::Signal::HUP] {
        let pty = spawn(&["stops.jsonl"]);
        pty.wait_for("the replay", on_replay);
        pty.signal(sig);
        assert!(finish(pty), "{sig:?}");
    }
}
