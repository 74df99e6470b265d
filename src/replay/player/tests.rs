//! Seeking gives the same state as playing from the start.

use super::*;
use crate::event::{EventKind, Header, Requester, Signal, StopMode};
use crate::manifest::NodeSpec;

fn write_journal(path: &Path, events: u64) {
    let mut w = crate::journal::JournalWriter::create(path).unwrap();
    let header = Header::synthetic("s", vec![NodeSpec::with_defaults("a", vec!["x".into()])]);
    w.append(&Event { seq: 0, t: 0, ev: EventKind::SessionStarted(Box::new(header)) }).unwrap();
    w.append(&Event { seq: 1, t: 1, ev: EventKind::NodeSpawned { node: "a".into(), pid: 9, pgid: 9, argv: vec![] } })
        .unwrap();
    for i in 2..events {
        let ev = if i % 1000 == 0 {
            let plan = crate::stop_engine::plan::graceful(
                &NodeSpec::with_defaults("a", vec![]),
                false,
                crate::stop_engine::Overrides::default(),
            );
            EventKind::StopRequested { node: "a".into(), by: Requester::Ctl, mode: StopMode::Graceful, plan }
        } else if i % 2 == 0 {
            EventKind::TokenIssued { node: "a".into(), id: i, receivers: vec!["r".into()] }
        } else {
            EventKind::TokenReleased { node: "a".into(), id: i - 1, receiver: "r".into() }
        };
        let _ = Signal::TERM;
        w.append(&Event { seq: i, t: i * 1_000_000, ev }).unwrap();
    }
    w.finish();
}

fn played_to(path: &Path, n: u64) -> State {
    let (events, _) = crate::journal::read_all(path).unwrap();
    let mut s = State::new();
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
    let mut p = Player::open(&path).unwrap();
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
