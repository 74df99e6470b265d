//! `gracewatch replay`: the cockpit's screens on journals recorded from real runs
//! (`tests/fixtures/replay/`, see its README), at chosen times, at 160x45 and 80x24. The wall
//! clock comes from the journal's header and the screen size is fixed: deterministic.
//!
//! Also: seeking to a time shows exactly what playing there shows; a journal torn by a crash,
//! one of a newer format version, one with unknown kinds and a directory of rotated files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gracewatch::event::{Event, EventKind, FORMAT_MINOR, FORMAT_VERSION};
use gracewatch::journal::checkpoint::{CheckpointPolicy, Moment};
use gracewatch::journal::{JournalError, JournalWriter};
use gracewatch::replay::Player;
use gracewatch::replay::Speed;
use gracewatch::state::Fold;
use gracewatch::tui::action::ReplayCmd;
use gracewatch::tui::app::{Overlay, View};
use gracewatch::tui::replay_driver::{ReplayOptions, ReplaySession};
use gracewatch::tui::theme::Theme;
use insta::assert_snapshot;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MS: u64 = 1_000_000;
const SIZES: [(u16, u16); 2] = [(160, 45), (80, 24)];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replay").join(name)
}

fn options() -> ReplayOptions {
    ReplayOptions { theme: Some(Theme::plain()), ..ReplayOptions::default() }
}

/// A replay with its index built (so the header's counts do not depend on timing).
fn open_with(path: &Path, opts: &ReplayOptions, w: u16, h: u16) -> ReplaySession {
    let mut s = ReplaySession::open(path, opts, Rect::new(0, 0, w, h)).unwrap();
    let start = Instant::now();
    while !s.player.index.read().unwrap().complete {
        assert!(start.elapsed() < Duration::from_secs(20), "index never completed");
        std::thread::sleep(Duration::from_millis(5));
    }
    s.sync_index(0);
    s
}

fn open(path: &Path, w: u16, h: u16) -> ReplaySession {
    open_with(path, &options(), w, h)
}

fn buffer(s: &ReplaySession) -> Buffer {
    let area = s.ui.screen;
    let mut t = Terminal::new(TestBackend::new(area.width, area.height)).unwrap();
    t.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
    t.backend().buffer().clone()
}

fn screen_text(s: &ReplaySession) -> String {
    let area = s.ui.screen;
    let mut t = Terminal::new(TestBackend::new(area.width, area.height)).unwrap();
    t.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
    t.backend().to_string()
}

/// Snapshots of `journal` at session time `t_ms`, both sizes, after `setup`.
fn snap_at(name: &str, journal: &str, t_ms: u64, setup: impl Fn(&mut ReplaySession)) {
    for (w, h) in SIZES {
        let mut s = open(&fixture(journal), w, h);
        s.command(ReplayCmd::Seek(t_ms * MS), 0);
        setup(&mut s);
        assert_snapshot!(format!("{name}_{w}x{h}"), screen_text(&s));
    }
}

// ---- the screens of a real session, stopped node by node ----

#[test]
fn before_any_stop_tokens_lent_and_returned() {
    snap_at("stops_1s", "stops.jsonl", 1_000, |_| {});
}

#[test]
fn cooperative_stop_acknowledged_and_cleaning_up() {
    snap_at("stops_2600ms", "stops.jsonl", 2_600, |s| s.ui.table.selected = Some("polite".into()));
}

#[test]
fn grace_extended_while_the_slow_receiver_holds_tokens() {
    snap_at("stops_5500ms", "stops.jsonl", 5_500, |s| s.ui.table.selected = Some("lender".into()));
    snap_at("stops_5500ms_detail", "stops.jsonl", 5_500, |s| {
        s.ui.table.selected = Some("lender".into());
        s.ui.view = View::Detail;
    });
}

#[test]
fn stop_all_with_a_node_that_ignores_sigterm() {
    snap_at("stops_7500ms", "stops.jsonl", 7_500, |s| s.ui.table.selected = Some("stubborn".into()));
}

#[test]
fn the_end_of_the_session() {
    snap_at("stops_end", "stops.jsonl", 60_000, |_| {});
}

#[test]
fn help_lists_the_replay_keys_and_the_timeline() {
    snap_at("help", "stops.jsonl", 2_600, |s| s.ui.overlay = Overlay::Help { scroll: 0 });
}

#[test]
fn the_go_to_prompt() {
    snap_at("goto", "stops.jsonl", 4_000, |s| s.ui.overlay = Overlay::Goto { input: "11:32:03".into() });
}

// ---- seeking is the same as playing ----

/// Plays from the start at 1x, the clock moved in 100 ms frames, to session time `t`, paused.
fn played_to(path: &Path, t: u64) -> ReplaySession {
    let mut s = open(path, 160, 45);
    s.command(ReplayCmd::PlayPause, 0);
    assert!(s.playing());
    let mut wall = 0;
    while wall + 100 * MS < t {
        wall += 100 * MS;
        s.tick(wall);
    }
    s.tick(t);
    s.command(ReplayCmd::PlayPause, t);
    assert_eq!(s.now(), t.min(s.ui.replay.as_ref().unwrap().end_t));
    s
}

#[test]
fn seeking_to_a_time_shows_what_playing_there_shows() {
    let path = fixture("stops.jsonl");
    let mut seeker = open(&path, 160, 45);
    // Around every stop (requested 2.501s, 4.005s, 7.009s; kills 6.005s, 8.511s), in an order
    // that seeks backwards as well as forwards.
    let times_ms = [8_600, 2_400, 2_502, 4_006, 1_000, 6_004, 6_006, 5_100, 7_010, 8_512, 3_000, 2_900, 100];
    for t_ms in times_ms {
        let t = t_ms * MS;
        seeker.command(ReplayCmd::Seek(t), 0);
        let played = played_to(&path, t);
        assert_eq!(seeker.now(), played.now(), "at {t_ms} ms");
        assert_eq!(seeker.player.applied, played.player.applied, "at {t_ms} ms");
        assert_eq!(seeker.player.state, played.player.state, "at {t_ms} ms");
        assert_eq!(buffer(&seeker), buffer(&played), "the screens differ at {t_ms} ms");
    }
}

#[test]
fn playing_at_1x_shows_events_at_their_recorded_times() {
    let mut s = open(&fixture("stops.jsonl"), 160, 45);
    s.command(ReplayCmd::PlayPause, 0);
    // The stop of polite was requested at 2.500667s: not yet at 2.5s, shown at 2.501s.
    s.tick(2_500 * MS);
    assert_eq!(s.player.state.node("polite").unwrap().stop, None);
    s.tick(2_501 * MS);
    assert!(s.player.state.node("polite").unwrap().stop.is_some());
    assert_eq!(s.now(), 2_501 * MS);
    // At 4x, 500 ms of wall time is 2 s of session time.
    s.command(ReplayCmd::Faster, 2_501 * MS);
    s.command(ReplayCmd::Faster, 2_501 * MS);
    assert_eq!(s.speed(), Speed::Times(4.0));
    s.tick(3_001 * MS);
    assert_eq!(s.now(), 4_501 * MS);
    // Played to the end, the replay pauses on the last event.
    s.tick(60_000 * MS);
    assert!(!s.playing());
    assert_eq!(s.now(), s.ui.replay.as_ref().unwrap().end_t);
    // Space at the end plays again from the start.
    s.command(ReplayCmd::PlayPause, 60_000 * MS);
    assert!(s.playing());
    assert_eq!(s.now(), 0);
}

#[test]
fn steps_marks_start_and_end() {
    let mut s = open(&fixture("stops.jsonl"), 160, 45);
    s.command(ReplayCmd::Mark { forward: true }, 0);
    // The first stop-related event: polite's stop request.
    assert_eq!(s.player.state.node("polite").unwrap().stop.as_ref().map(|st| st.requested_at), Some(s.now()));
    let at_mark = s.player.applied;
    s.command(ReplayCmd::Step { forward: true }, 0);
    assert_eq!(s.player.applied, at_mark + 1);
    s.command(ReplayCmd::Step { forward: false }, 0);
    s.command(ReplayCmd::Step { forward: false }, 0);
    assert_eq!(s.player.applied, at_mark - 1);
    assert!(s.player.state.node("polite").unwrap().stop.is_none());
    s.command(ReplayCmd::ToEnd, 0);
    let r = s.ui.replay.clone().unwrap();
    assert_eq!((s.player.applied, s.now()), (r.events, r.end_t));
    s.command(ReplayCmd::Mark { forward: false }, 0);
    assert!(s.now() < r.end_t);
    s.command(ReplayCmd::ToStart, 0);
    assert_eq!((s.player.applied, s.now()), (1, 0));
    s.command(ReplayCmd::Step { forward: false }, 0);
    assert_eq!(s.ui.notice.as_ref().map(|n| n.text.as_str()), Some("the start of the session"));
    s.command(ReplayCmd::Mark { forward: false }, 0);
    assert_eq!(s.ui.notice.as_ref().map(|n| n.text.as_str()), Some("no earlier stop-related event"));
}

#[test]
fn starting_at_a_time_and_speed() {
    let opts = ReplayOptions { at: Some(4_500 * MS), speed: Speed::Times(8.0), play: true, ..options() };
    let s = open_with(&fixture("stops.jsonl"), &opts, 80, 24);
    assert_eq!(s.now(), 4_500 * MS);
    assert!(s.playing());
    let screen = screen_text(&s);
    assert!(screen.contains("▶ 8x"), "{screen}");
}

// ---- damaged, newer, unknown, rotated ----

#[test]
fn a_journal_cut_mid_line_by_a_crash_replays_up_to_the_cut() {
    // crash.jsonl was recorded by SIGKILLing the supervisor; its last write happened to be
    // whole, so cut its last line in half, as a crash mid-write leaves it.
    let whole = std::fs::read(fixture("crash.jsonl")).unwrap();
    let last_start = whole[..whole.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
    let cut = last_start + (whole.len() - last_start) / 2;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.jsonl");
    std::fs::write(&path, &whole[..cut]).unwrap();

    let lines = whole.iter().filter(|b| **b == b'\n').count() as u64;
    for (w, h) in SIZES {
        let mut s = open(&path, w, h);
        let r = s.ui.replay.clone().unwrap();
        assert!(r.torn_tail);
        assert_eq!(r.events, lines - 1, "every whole line is replayed");
        s.command(ReplayCmd::ToEnd, 0);
        assert_eq!(s.player.applied, lines - 1);
        let screen = screen_text(&s);
        assert!(screen.contains("torn"), "{screen}");
        assert_snapshot!(format!("crash_torn_end_{w}x{h}"), screen);
    }
}

#[test]
fn a_long_session_name_gives_way_before_the_header_goes_compact() {
    // The same torn journal under a session name as long as a generated one.
    let whole = std::fs::read_to_string(fixture("crash.jsonl")).unwrap();
    let long = "replay-crash-of-a-session-with-a-long-generated-name-000012345600042";
    let renamed = whole.replacen("\"session\":\"replay-crash\"", &format!("\"session\":\"{long}\""), 1);
    assert_ne!(renamed, whole);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.jsonl");
    std::fs::write(&path, &renamed[..renamed.len() - 10]).unwrap();
    let mut s = open(&path, 160, 45);
    s.command(ReplayCmd::ToEnd, 0);
    let screen = screen_text(&s);
    let header = screen.lines().next().unwrap();
    assert!(header.contains("torn last line") && header.contains(" UTC "), "{header}");
    assert!(!header.contains(long), "{header}");
    // Where it fits, the name is there.
    let mut s = open(&fixture("crash.jsonl"), 160, 45);
    s.command(ReplayCmd::ToEnd, 0);
    assert!(screen_text(&s).lines().next().unwrap().contains("· replay-crash"));
}

/// `stops.jsonl` with the record on line 61 broken in the middle of the session.
fn damaged_stops(dir: &Path) -> (PathBuf, u64) {
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[60] = r#"{"seq":60,"t":2500000000,"ev":{"node_exi"#;
    let path = dir.join("damaged.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    (path, lines.len() as u64 - 1)
}

#[test]
fn a_journal_damaged_in_the_middle_replays_past_the_damage_with_a_true_counter() {
    let dir = tempfile::tempdir().unwrap();
    let (path, whole) = damaged_stops(dir.path());
    for (w, h, expect) in [(160, 45, "1 damaged record skipped"), (80, 24, "1 damaged")] {
        let mut s = open(&path, w, h);
        let r = s.ui.replay.clone().unwrap();
        assert_eq!((r.events, r.damaged_records, r.torn_tail, r.damaged.as_deref()), (whole, 1, false, None));
        let notice = s.ui.notice.as_ref().map(|n| n.text.clone()).unwrap_or_default();
        assert_eq!(notice, "the journal is damaged: 1 record skipped at line 61; replayed everything else");
        let screen = screen_text(&s);
        assert!(screen.lines().next().unwrap().contains(expect), "{screen}");

        // One event at a time to the end: the counter counts whole records only.
        let mut shown = s.player.applied;
        loop {
            s.command(ReplayCmd::Step { forward: true }, 0);
            if s.player.applied == shown {
                break;
            }
            assert_eq!(s.player.applied, shown + 1);
            shown = s.player.applied;
            assert!(shown <= whole, "event {shown}/{whole}");
        }
        assert_eq!(shown, whole, "the replay reaches the end past the damage");
        let screen = screen_text(&s);
        assert!(screen.contains(&format!("event {whole}/{whole}")), "{screen}");
    }

    // Seeks land where stepping lands, on both sides of the damage: the same state as the
    // undamaged journal's, but for the one record skipped.
    let mut s = open(&path, 160, 45);
    let mut whole_journal = open(&fixture("stops.jsonl"), 160, 45);
    for t_ms in [8_000, 1_000, 2_600, 60_000] {
        s.command(ReplayCmd::Seek(t_ms * MS), 0);
        whole_journal.command(ReplayCmd::Seek(t_ms * MS), 0);
        let skipped = u64::from(t_ms >= 2_500);
        assert_eq!(s.player.applied + skipped, whole_journal.player.applied, "at {t_ms} ms");
        assert_eq!(s.ui.replay.as_ref().unwrap().events, whole, "at {t_ms} ms");
    }
    s.command(ReplayCmd::ToEnd, 0);
    assert_eq!(s.player.applied, whole);

    // The index kept on disk remembers the damage: a second open says it too.
    let cache = dir.path().join("cache");
    let opts = ReplayOptions { index_cache: Some(cache.clone()), ..options() };
    for round in 0..2 {
        let s = open_with(&path, &opts, 160, 45);
        assert_eq!(s.player.index.read().unwrap().from_cache, round == 1, "round {round}");
        let r = s.ui.replay.as_ref().unwrap();
        assert_eq!((r.events, r.damaged_records), (whole, 1), "round {round}");
        let start = Instant::now();
        let cached = || {
            std::fs::read_dir(&cache)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "idx"))
        };
        while round == 0 && !cached() {
            assert!(start.elapsed() < Duration::from_secs(20), "the index was never cached");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn a_rotated_file_cut_before_the_next_one_is_skipped_not_the_end() {
    // A rotated set whose middle file ends in a cut-off line: the files after it still count.
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    for (i, part) in lines.chunks(50).enumerate() {
        let mut body = part.join("\n") + "\n";
        if i == 1 {
            body.push_str(r#"{"seq":99999,"t":"#);
        }
        std::fs::write(dir.path().join(format!("stops.{i:03}.jsonl")), body).unwrap();
    }
    let (events, summary) = gracewatch::journal::read_all(dir.path()).unwrap();
    assert_eq!(events.len(), lines.len());
    assert_eq!((summary.damaged, summary.torn_tail), (1, None));
    assert_eq!(summary.damage().unwrap(), "1 record skipped at stops.001.jsonl:51");
    let mut s = open(dir.path(), 160, 45);
    s.command(ReplayCmd::ToEnd, 0);
    assert_eq!(s.player.applied, lines.len() as u64);
}

#[test]
fn a_journal_of_a_newer_format_version_is_refused_naming_both_versions() {
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let newer = text.replacen("\"format\":1,", "\"format\":99,", 1);
    assert_ne!(newer, text);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.jsonl");
    std::fs::write(&path, newer).unwrap();
    match ReplaySession::open(&path, &options(), Rect::new(0, 0, 80, 24)) {
        Err(e @ JournalError::NewerFormat { found: 99, supported, .. }) => {
            assert_eq!(supported, FORMAT_VERSION);
            let msg = e.to_string();
            assert!(msg.contains("version 99") && msg.contains(&format!("version {FORMAT_VERSION}")), "{msg}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer journal was opened"),
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gracewatch")).arg("replay").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("journal format version 99 is newer than this gracewatch reads (version 1)"), "{err}");
}

#[test]
fn unknown_event_kinds_are_skipped_and_counted_in_the_header() {
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.insert(20, r#"{"seq":1000,"t":500000000,"ev":{"gpu_sampled":{"node":"lender","util":0.5}}}"#.into());
    lines.insert(40, r#"{"seq":1001,"t":900000000,"ev":{"quantum_state":{}}}"#.into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    for (w, h, expect) in [(160, 45, "2 unknown events skipped"), (80, 24, "2 unknown")] {
        let mut s = open(&path, w, h);
        s.command(ReplayCmd::Seek(1_000 * MS), 0);
        assert_eq!(s.ui.replay.as_ref().unwrap().unknown_kinds, 2);
        let screen = screen_text(&s);
        assert!(screen.lines().next().unwrap().contains(expect), "{screen}");
    }
}

#[test]
fn a_directory_of_rotated_files_replays_as_one_journal() {
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let rotated = dir.path().join("rotated");
    std::fs::create_dir(&rotated).unwrap();
    for (i, part) in lines.chunks(50).enumerate() {
        std::fs::write(rotated.join(format!("stops.{i:03}.jsonl")), part.join("\n") + "\n").unwrap();
    }
    let mut one = open(&fixture("stops.jsonl"), 160, 45);
    let mut many = open(&rotated, 160, 45);
    assert_eq!(many.ui.replay.as_ref().unwrap().events, lines.len() as u64);
    let head = screen_text(&many);
    assert!(head.lines().next().unwrap().contains(" gracewatch │ REPLAY rotated · replay-stops │"), "{head}");
    for t_ms in [7_500, 1_000, 60_000] {
        one.command(ReplayCmd::Seek(t_ms * MS), 0);
        many.command(ReplayCmd::Seek(t_ms * MS), 0);
        assert_eq!(one.player.state, many.player.state, "at {t_ms} ms");
        many.ui.replay.as_mut().unwrap().file = "stops.jsonl".into();
        assert_eq!(buffer(&one), buffer(&many), "at {t_ms} ms");
    }
}

#[test]
fn replay_outside_a_terminal_says_what_to_use_instead() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gracewatch"))
        .args(["replay", "--speed", "4"])
        .arg(fixture("stops.jsonl"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("replay needs a terminal"));
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_gracewatch"))
        .args(["replay", "--speed", "0"])
        .arg(fixture("stops.jsonl"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("bad speed 0"));
}

// ---- the loop, on a test screen, on tokio's paused clock ----

mod driven {
    use super::*;
    use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent};
    use futures_util::Stream;
    use gracewatch::event::Signal;
    use gracewatch::tui::TuiExit;
    use gracewatch::tui::replay_driver::drive;
    use tokio::sync::mpsc;

    fn stream<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>) -> impl Stream<Item = T> + Unpin {
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }))
    }

    type Run = tokio::task::JoinHandle<(Result<TuiExit, gracewatch::tui::Error>, String)>;

    fn start() -> (mpsc::UnboundedSender<TermEvent>, mpsc::UnboundedSender<Signal>, Run) {
        let session = open(&fixture("stops.jsonl"), 120, 30);
        let (keys, keys_rx) = mpsc::unbounded_channel::<TermEvent>();
        let (signals, sig_rx) = mpsc::unbounded_channel::<Signal>();
        let task = tokio::spawn(async move {
            let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
            let events = futures_util::StreamExt::map(stream(keys_rx), Ok);
            let exit = drive(&mut terminal, events, stream(sig_rx), session).await;
            (exit, terminal.backend().to_string())
        });
        (keys, signals, task)
    }

    fn key(c: char) -> TermEvent {
        TermEvent::Key(KeyEvent::from(KeyCode::Char(c)))
    }

    #[tokio::test(start_paused = true)]
    async fn space_plays_at_1x_and_q_quits() {
        let (keys, _signals, task) = start();
        keys.send(key(' ')).unwrap();
        tokio::time::sleep(Duration::from_millis(2_650)).await;
        keys.send(key(' ')).unwrap();
        // Paused: however long nothing happens, the moment shown stays.
        tokio::time::sleep(Duration::from_secs(30)).await;
        keys.send(key('s')).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        keys.send(key('q')).unwrap();
        let (exit, screen) = task.await.unwrap();
        assert_eq!(exit.unwrap(), TuiExit::Quit);
        assert!(screen.contains("❚❚ 1x"), "{screen}");
        assert!(screen.contains(" +2.650s ├"), "{screen}");
        let polite = screen.lines().find(|l| l.contains("polite    3469")).unwrap();
        assert!(polite.contains("stopping"), "{screen}");
        assert!(screen.contains("replay: stop actions are disabled"), "{screen}");
    }

    #[tokio::test(start_paused = true)]
    async fn sigterm_ends_the_replay() {
        let (_keys, signals, task) = start();
        tokio::time::sleep(Duration::from_millis(200)).await;
        signals.send(Signal::TERM).unwrap();
        let (exit, _) = task.await.unwrap();
        assert_eq!(exit.unwrap(), TuiExit::Terminated(Signal::TERM));
    }

    #[tokio::test(start_paused = true)]
    async fn the_end_of_input_ends_the_replay() {
        let (keys, _signals, task) = start();
        drop(keys);
        let (exit, _) = task.await.unwrap();
        assert_eq!(exit.unwrap(), TuiExit::InputClosed);
    }
}

/// A long journal: the fixture's header, then `n` token events 1 ms apart.
fn long_journal(dir: &Path, n: u64) -> PathBuf {
    use std::io::Write;
    let header = std::fs::read_to_string(fixture("stops.jsonl")).unwrap().lines().next().unwrap().to_string();
    let path = dir.join("long.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{header}").unwrap();
    for seq in 1..=n {
        let ev = if seq % 2 == 1 {
            format!(r#"{{"token_issued":{{"node":"lender","id":{seq},"receivers":["detector"]}}}}"#)
        } else {
            format!(r#"{{"token_released":{{"node":"lender","id":{},"receiver":"detector"}}}}"#, seq - 1)
        };
        writeln!(out, r#"{{"seq":{seq},"t":{},"ev":{ev}}}"#, seq * MS).unwrap();
    }
    out.flush().unwrap();
    path
}

#[test]
fn a_seek_past_the_index_waits_for_it_and_the_screen_stays_live() {
    let dir = tempfile::tempdir().unwrap();
    let n = 400_000;
    let path = long_journal(dir.path(), n);
    let mut s = ReplaySession::open(&path, &options(), Rect::new(0, 0, 160, 45)).unwrap();
    s.command(ReplayCmd::ToEnd, 0);
    if s.seeking() {
        let screen = screen_text(&s);
        assert!(screen.contains("seeking the end…"), "{screen}");
        assert_eq!(s.now(), 0, "the screen stays where it was meanwhile");
    } else {
        eprintln!("the index of {n} events was built before the seek: the waiting was not exercised");
    }
    let start = Instant::now();
    let mut wall = 0;
    while s.seeking() {
        assert!(start.elapsed() < Duration::from_secs(60), "the seek never completed");
        std::thread::sleep(Duration::from_millis(20));
        wall += 20 * MS;
        s.tick(wall);
    }
    assert_eq!((s.player.applied, s.now()), (n + 1, n * MS));
    assert!(!screen_text(&s).contains("seeking"));
}

// ---- the bundled demo, recorded (`demo.jsonl`): one node per failure of DESIGN.md ----

#[test]
fn demo_before_the_stop_every_failure_visible() {
    // 4 s in: the slow receiver's backlog is full, every hazard raised, nothing stopped yet.
    snap_at("demo_4s", "demo.jsonl", 4_000, |s| s.ui.table.selected = Some("slow_receiver".into()));
}

#[test]
fn demo_mid_stop_slow_receiver_counts_down_with_tokens_held_by_detector() {
    // 10 s in: the first tier is gone but for slow_receiver, in its SIGTERM stage, its grace
    // extended while `detector` still holds its tokens; steady waits for it.
    snap_at("demo_10s", "demo.jsonl", 10_000, |s| s.ui.table.selected = Some("slow_receiver".into()));
    snap_at("demo_10s_detail", "demo.jsonl", 10_000, |s| {
        s.ui.table.selected = Some("slow_receiver".into());
        s.ui.view = View::Detail;
    });
}

#[test]
fn demo_the_end_of_the_session() {
    snap_at("demo_end", "demo.jsonl", 60_000, |_| {});
}

// ---- checkpoints inside the journal (format 1.1): seeking with no index ----

/// The fixture's header (as format 1.1), then `n` token events 1 ms apart, written as a session
/// writes them: a checkpoint of the fold every `every` events. Returns the path and the events.
fn checkpointed_journal(dir: &Path, n: u64, every: u64) -> (PathBuf, Vec<Event>) {
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let mut header: Event = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    if let EventKind::SessionStarted(h) = &mut header.ev {
        h.format_minor = FORMAT_MINOR;
    }
    let mut events = vec![header];
    for seq in 1..=n {
        let ev = if seq % 2 == 1 {
            EventKind::TokenIssued { node: "lender".into(), id: seq, receivers: vec!["detector".into()] }
        } else {
            EventKind::TokenReleased { node: "lender".into(), id: seq - 1, receiver: "detector".into() }
        };
        events.push(Event { seq, t: seq * MS, ev });
    }
    let path = dir.join("checkpointed.jsonl");
    let policy = CheckpointPolicy { every_events: every, every_bytes: u64::MAX, ratio: 0 };
    let mut w = JournalWriter::create(&path).unwrap().with_checkpoints(Some(policy));
    let mut state = Fold::new(gracewatch::hazards::lints());
    for e in &events {
        w.append(e).unwrap();
        state.apply(e);
        if w.checkpoint_due() {
            w.checkpoint(state.state()).unwrap();
        }
    }
    w.finish().unwrap();
    (path, events)
}

/// The fold of every event at or before `t`.
fn folded_to(events: &[Event], t: u64) -> Fold {
    let mut s = Fold::new(gracewatch::hazards::lints());
    events.iter().take_while(|e| e.t <= t).for_each(|e| s.apply(e));
    s
}

#[test]
fn a_journal_with_checkpoints_seeks_anywhere_with_no_index_and_shows_the_full_fold() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40_000;
    let (path, events) = checkpointed_journal(dir.path(), n, 3_000);
    // No cache: nothing is known of this journal but the journal itself.
    let mut p = Player::open(&path, None).unwrap();
    assert!(p.checkpointed());
    for t_ms in [20_000, 39_999, 12_345, 2_999, 3_000, 3_001, n + 5, 1, 30_500] {
        let t = t_ms * MS;
        assert!(p.seek_in_journal(Moment::Time(t)), "at {t_ms} ms");
        assert_eq!(p.state, folded_to(&events, t), "at {t_ms} ms");
        assert_eq!(p.applied, events.iter().filter(|e| e.t <= t).count() as u64, "at {t_ms} ms");
    }
    for n in [25_001, 9_000, 1] {
        assert!(p.seek_in_journal(Moment::Events(n)));
        assert_eq!((p.applied, p.state.last_seq), (n, Some(n - 1)));
    }
    // The replay screen: a seek to the middle is answered at once, and shows what playing
    // there shows.
    let middle = n / 2 * MS + MS / 2;
    let mut s = ReplaySession::open(&path, &options(), Rect::new(0, 0, 160, 45)).unwrap();
    let r = s.ui.replay.as_ref().unwrap();
    assert_eq!((r.events, r.end_t), (n + 1, n * MS), "its end is known before the index gets there");
    s.command(ReplayCmd::Seek(middle), 0);
    assert!(!s.seeking(), "a journal with checkpoints does not wait for its index");
    assert_eq!(s.player.state, folded_to(&events, middle));
    // Once indexed (the header and the timeline show how far the index got), the screen is the
    // one playing there shows.
    while !s.player.index.read().unwrap().complete {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.sync_index(0);
    let played = played_to(&path, middle);
    assert_eq!(buffer(&s), buffer(&played));
    s.command(ReplayCmd::ToEnd, 0);
    assert_eq!((s.player.applied, s.now()), (n + 1, n * MS));
}

#[test]
fn a_journal_torn_in_the_middle_of_a_checkpoint_replays_up_to_its_last_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, events) = checkpointed_journal(dir.path(), 10_000, 3_000);
    let whole = std::fs::read(&path).unwrap();
    // Cut inside the last checkpoint (after event 9,000), as a crash mid-write leaves it.
    let text = String::from_utf8(whole.clone()).unwrap();
    let start = text.rfind("{\"seq\":8999,\"t\":8999000000,\"ev\":{\"checkpoint\"").unwrap();
    let end = start + text[start..].find('\n').unwrap();
    let cut = start + (end - start) / 2;
    std::fs::write(&path, &whole[..cut]).unwrap();
    let (read, summary) = gracewatch::journal::read_all(&path).unwrap();
    assert_eq!(read.as_slice(), &events[..9_000], "every event before the cut");
    assert_eq!(summary.torn_tail, Some((cut - start) as u64));
    let mut s = open(&path, 160, 45);
    assert!(s.ui.replay.as_ref().unwrap().torn_tail);
    s.command(ReplayCmd::ToEnd, 0);
    assert_eq!(s.player.applied, 9_000);
    assert!(screen_text(&s).contains("torn"));
    // Seeking in the journal itself uses the checkpoints before the cut.
    let mut p = Player::open(&path, None).unwrap();
    assert!(p.seek_in_journal(Moment::Time(u64::MAX)));
    assert_eq!(p.state, folded_to(&events[..9_000], u64::MAX));
    assert!(p.seek_in_journal(Moment::Time(7_500 * MS)));
    assert_eq!(p.state, folded_to(&events, 7_500 * MS));
}

#[test]
fn an_old_journal_without_checkpoints_seeks_through_its_index() {
    // Format 1.0 (the fixtures): not searched for checkpoints; the index serves the seeks.
    let mut p = Player::open(&fixture("stops.jsonl"), None).unwrap();
    assert!(!p.checkpointed());
    assert!(!p.seek_in_journal(Moment::Time(5_000 * MS)));
    assert_eq!(p.applied, 1, "nothing moved");
    // A short 1.1 journal written with no checkpoint in it: a seek folds from its start.
    let dir = tempfile::tempdir().unwrap();
    let (path, events) = checkpointed_journal(dir.path(), 3_000, u64::MAX);
    assert!(!std::fs::read_to_string(&path).unwrap().contains("\"checkpoint\""));
    let mut p = Player::open(&path, None).unwrap();
    assert!(p.seek_in_journal(Moment::Time(2_000 * MS)), "within reach of the start: folded from it");
    assert_eq!(p.state, folded_to(&events, 2_000 * MS));
}

#[test]
fn a_newer_minor_of_the_format_is_read_and_a_newer_major_refused() {
    let text = std::fs::read_to_string(fixture("stops.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("minor.jsonl");
    let minor = text.replacen("\"format\":1,", &format!("\"format\":{FORMAT_VERSION},\"format_minor\":99,"), 1);
    assert_ne!(minor, text);
    std::fs::write(&path, minor).unwrap();
    let (events, _) = gracewatch::journal::read_all(&path).unwrap();
    assert_eq!(events.len(), text.lines().count());
    let newer = text.replacen("\"format\":1,", "\"format\":2,\"format_minor\":0,", 1);
    std::fs::write(&path, newer).unwrap();
    let err = gracewatch::journal::read_all(&path).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let msg = err.to_string();
    assert!(msg.contains("journal format version 2 is newer than this gracewatch reads (version 1)"), "{msg}");
}
