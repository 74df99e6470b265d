//! Seeking gives the same state as playing from the start.

use super::*;
use crate::event::{EventKind, Header, Requester, Signal, StopMode};
use crate::manifest::NodeSpec;

fn write_journal(path: &Path, events: u64) {
    write_journal_recorded(path, events, None);
}

/// Writes a journal, showing each event to `recorder` as a session does.
fn write_journal_recorded(path: &Path, events: u64, recorder: Option<&crate::replay::recorder::Recorder>) {
    let mut w = crate::journal::JournalWriter::create(path).unwrap();
    let append = |w: &mut crate::journal::JournalWriter, e: Event| {
        w.append(&e).unwrap();
        if let Some(r) = recorder {
            r.observe(std::sync::Arc::new(e), w.bytes());
        }
    };
    let header = Header::synthetic("s", vec![NodeSpec::with_defaults("a", vec!["x".into()])]);
    append(&mut w, Event { seq: 0, t: 0, ev: EventKind::SessionStarted(Box::new(header)) });
    append(
        &mut w,
        Event { seq: 1, t: 1, ev: EventKind::NodeSpawned { node: "a".into(), pid: 9, pgid: 9, argv: vec![] } },
    );
    for i in 2..events {
        let ev = if i % 1000 == 0 {
            let plan = crate::stop_engine::plan::graceful(
                &NodeSpec::with_defaults("a", vec![]),
                false,
                crate::stop_engine::Overrides::default(),
            );
            EventKind::StopRequested {
                node: "a".into(),
                by: Requester::Ctl,
                mode: StopMode::Graceful,
                plan,
                kill_at: None,
            }
        } else if i % 2 == 0 {
            EventKind::TokenIssued { node: "a".into(), id: i, receivers: vec!["r".into()] }
        } else {
            EventKind::TokenReleased { node: "a".into(), id: i - 1, receiver: "r".into() }
        };
        let _ = Signal::TERM;
        append(&mut w, Event { seq: i, t: i * 1_000_000, ev });
    }
    w.finish().unwrap();
}

fn played_to(path: &Path, n: u64) -> Fold {
    let (events, _) = crate::journal::read_all(path).unwrap();
    let mut s = Fold::new(crate::hazards::lints());
    for e in events.iter().take(n as usize) {
        s.apply(e);
    }
    s
}

#[test]
fn seeking_anywhere_equals_playing_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    write_journal(&path, 250_003);
    let mut p = Player::open(&path, None).unwrap();
    // Wait for the index.
    while !p.index.read().unwrap().complete {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(p.index.read().unwrap().events, 250_003);
    for n in [240_000, 5, 150_001, 100_000, 2, 250_003] {
        p.seek_to_event(n);
        assert_eq!(p.applied, n);
        assert_eq!(p.state, played_to(&path, n), "at event {n}");
    }
    p.seek_to_time(123_456_789);
    assert_eq!(p.state.now, 123_000_000);
    assert_eq!(p.state, played_to(&path, 124));
    let m = p.mark(true).unwrap();
    assert_eq!(m.n, 1000);
    p.jump_to_mark(m);
    assert_eq!(p.mark(false).map(|m| m.n), None, "no stop mark before the first");
}

/// Opens with the cache and waits until the indexer thread is done, its cache written (it lets
/// go of the index last), so that nothing writes into the test's directory after it is gone.
fn indexed(path: &Path, cache: &Path) -> Player {
    let p = Player::open(path, Some(cache.to_path_buf())).unwrap();
    while !p.index.read().unwrap().complete || std::sync::Arc::strong_count(&p.index) > 1 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    p
}

/// The cache file, once the indexer has written it.
fn cached_file(cache: &Path) -> std::path::PathBuf {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(60) {
        if let Some(f) = std::fs::read_dir(cache)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "idx"))
        {
            return f;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no cache file written in {}", cache.display());
}

/// Seeks back and forth; each state equals the one playing from the start reaches (one pass).
fn seeks_are_right(p: &mut Player, path: &Path) {
    let wanted = [240_000, 5, 150_001, 100_000, 2, 250_003];
    let (events, _) = crate::journal::read_all(path).unwrap();
    let mut s = Fold::new(crate::hazards::lints());
    let mut played = std::collections::BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        s.apply(e);
        if wanted.contains(&(i as u64 + 1)) {
            played.insert(i as u64 + 1, s.clone());
        }
    }
    for n in wanted {
        p.seek_to_event(n);
        assert_eq!(p.applied, n);
        assert!(p.state == played[&n], "at event {n}");
    }
}

/// A journal of `events` events in a new directory, opened once so that its index is cached;
/// (directory, journal, cache directory, cache file).
fn journal_cached_once(events: u64) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (path, cache) = (dir.path().join("j.jsonl"), dir.path().join("cache"));
    write_journal(&path, events);
    drop(indexed(&path, &cache));
    let file = cached_file(&cache);
    (dir, path, cache, file)
}

#[test]
fn a_journal_opened_again_seeks_from_its_cached_index_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (path, cache) = (dir.path().join("j.jsonl"), dir.path().join("cache"));
    write_journal(&path, 250_003);
    let first = indexed(&path, &cache);
    assert!(!first.index.read().unwrap().from_cache);
    let (marks, events) = (first.index.read().unwrap().marks.clone(), first.index.read().unwrap().events);
    cached_file(&cache);
    drop(first);

    let mut again = Player::open(&path, Some(cache.clone())).unwrap();
    {
        let idx = again.index.read().unwrap();
        assert!(idx.from_cache && idx.complete, "complete as soon as it is open");
        assert_eq!((idx.marks.clone(), idx.events), (marks, events));
        assert!(idx.checkpoints.iter().all(|c| matches!(c.state, crate::replay::index::Snapshot::OnDisk { .. })));
    }
    seeks_are_right(&mut again, &path);
}

#[test]
fn a_journal_that_changed_since_is_indexed_again() {
    let (_dir, path, cache, _) = journal_cached_once(120_000);
    // The session went on: the journal is longer now.
    std::fs::remove_file(&path).unwrap();
    write_journal(&path, 250_003);
    let mut again = indexed(&path, &cache);
    assert!(!again.index.read().unwrap().from_cache, "a stale cache is not used");
    assert_eq!(again.index.read().unwrap().events, 250_003);
    seeks_are_right(&mut again, &path);
}

#[test]
fn a_damaged_cache_costs_time_never_a_wrong_screen() {
    let (_dir, path, cache, file) = journal_cached_once(250_003);
    // The stored states garbled, the header intact: seeks fold from the start instead.
    let mut bytes = std::fs::read(&file).unwrap();
    for b in bytes.iter_mut().take(64) {
        *b = b'#';
    }
    std::fs::write(&file, &bytes).unwrap();
    let mut p = Player::open(&path, Some(cache.clone())).unwrap();
    assert!(p.index.read().unwrap().from_cache);
    seeks_are_right(&mut p, &path);
    // Cut short (the header gone): ignored, indexed again.
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let p = indexed(&path, &cache);
    assert!(!p.index.read().unwrap().from_cache);
}

/// A journal of `events` written as a session writes it, its index recorded on the way:
/// (its directory, the journal, the cache, the index file the recording left there).
fn journal_recorded(
    events: u64,
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf, Option<std::path::PathBuf>) {
    use crate::replay::recorder::{RECORD_FROM_EVENTS, Recorder};
    let dir = tempfile::tempdir().unwrap();
    let (path, cache) = (dir.path().join("j.jsonl"), dir.path().join("cache"));
    let recorder = Recorder::start().unwrap();
    write_journal_recorded(&path, events, Some(&recorder));
    let file = recorder.finish(&path, &cache, RECORD_FROM_EVENTS).unwrap();
    (dir, path, cache, file)
}

#[test]
fn a_journal_recorded_with_its_index_seeks_at_once_on_its_first_open() {
    let (_dir, path, cache, file) = journal_recorded(250_003);
    let file = file.expect("a large journal leaves its index");
    assert!(file.exists());

    let mut first = Player::open(&path, Some(cache.clone())).unwrap();
    let recorded = {
        let idx = first.index.read().unwrap();
        assert!(idx.from_cache && idx.complete, "the first open already has the whole index");
        (idx.events, idx.marks.clone(), idx.checkpoints.iter().map(|c| (c.applied, c.t, c.pos)).collect::<Vec<_>>())
    };
    seeks_are_right(&mut first, &path);
    // Exactly what the indexer finds reading the journal: the same checkpoints at the same
    // byte positions, the same marks.
    let read = Player::open(&path, None).unwrap();
    while !read.index.read().unwrap().complete {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let idx = read.index.read().unwrap();
    let indexed = (idx.events, idx.marks.clone(), idx.checkpoints.iter().map(|c| (c.applied, c.t, c.pos)).collect());
    assert_eq!(recorded, indexed);
}

#[test]
fn a_small_journal_leaves_no_index_behind() {
    let (_dir, _path, cache, file) = journal_recorded(5_000);
    assert_eq!(file, None);
    assert!(!cache.exists());
}
