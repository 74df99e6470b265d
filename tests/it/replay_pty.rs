//! `gracewatch replay` on a real terminal (a pseudo-terminal read through a terminal
//! emulator): it draws the replay, answers keys, and gives the terminal back after `q`, SIGTERM
//! and SIGHUP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::pty_support;
use portable_pty::CommandBuilder;
use pty_support::Pty;

/// `gracewatch replay ARGS` in the fixtures directory; its index cache goes to `cache`.
fn spawn_cached(args: &[&str], cache: &std::path::Path) -> Pty {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gracewatch"));
    cmd.arg("replay");
    cmd.args(args);
    cmd.cwd(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay"));
    cmd.env("NO_COLOR", "1");
    cmd.env("XDG_CACHE_HOME", cache);
    Pty::spawn(cmd, 30, 120)
}

/// `gracewatch replay ARGS` with a cache directory of its own, kept as long as the test holds it.
fn spawn(args: &[&str]) -> (Pty, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    (spawn_cached(args, cache.path()), cache)
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
    let (mut pty, _cache) = spawn(&["stops.jsonl", "--at", "2.6s", "--speed", "0.25"]);
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
        let (pty, _cache) = spawn(&["stops.jsonl"]);
        pty.wait_for("the replay", on_replay);
        pty.signal(sig);
        assert!(finish(pty), "{sig:?}");
    }
}

/// The index is cached (in `$XDG_CACHE_HOME/gracewatch/replay`), and a second open of the same
/// journal reads it and shows the same screens.
#[test]
fn a_second_replay_of_a_journal_uses_the_cached_index() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("gracewatch/replay");
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()).collect()
    };
    let mut written = None;
    for round in 0..2 {
        let mut pty = spawn_cached(&["stops.jsonl"], cache.path());
        pty.wait_for("the replay", on_replay);
        if round == 0 {
            let start = std::time::Instant::now();
            while files().is_empty() && start.elapsed() < pty_support::PATIENCE {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        assert_eq!(files().len(), 1, "one cache file, round {round}: {:?}", files());
        pty.keys("G");
        pty.wait_for("the end", |s| s.contents().contains(" +8.764s ├"));
        pty.keys("q");
        assert!(finish(pty));
        let modified = std::fs::metadata(&files()[0]).unwrap().modified().unwrap();
        // Read, not rebuilt: the second open leaves the file as the first wrote it.
        assert_eq!(*written.get_or_insert(modified), modified, "round {round} rewrote the cache");
    }
}

/// A journal with one record broken in the middle replays to its end on a real terminal, its
/// counter counting whole records, its header saying one was skipped.
#[test]
fn a_journal_damaged_in_the_middle_replays_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay/stops.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[60] = "{\"seq\":60,\"t\":25";
    let path = dir.path().join("stops.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let whole = lines.len() - 1;
    let (mut pty, _cache) = spawn(&[path.to_str().unwrap()]);
    pty.wait_for("the replay", on_replay);
    pty.wait_for("the damage in the header", |s| s.contents().lines().next().is_some_and(|l| l.contains("1 damaged")));
    pty.keys("G");
    let end = format!("event {whole}/{whole}");
    pty.wait_for("the end, every whole record counted", |s| {
        s.contents().contains(" +8.764s ├") && s.contents().contains(&end)
    });
    pty.keys("q");
    assert!(finish(pty));
}
