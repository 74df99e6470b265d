use super::*;
use crate::event::{Event, EventKind, Header, Requester, StopMode};
use crate::journal::JournalWriter;
use crate::manifest::NodeSpec;

/// The events of a session lending tokens, with a stop now and then.
fn events(n: u64) -> Vec<Event> {
    events_stuck(n, 3)
}

/// [`events`], one token in `stuck` never given back.
fn events_stuck(n: u64, stuck: u64) -> Vec<Event> {
    let mut out = vec![Event {
        seq: 0,
        t: 0,
        ev: EventKind::SessionStarted(Box::new(Header::synthetic("s", vec![NodeSpec::with_defaults("a", vec![])]))),
    }];
    out.push(Event { seq: 1, t: 1, ev: EventKind::NodeSpawned { node: "a".into(), pid: 9, pgid: 9, argv: vec![] } });
    for i in 2..n {
        let ev = if i % 500 == 0 {
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
        } else if i % stuck == 0 {
            // This token stays lent: the state grows.
            EventKind::TokenIssued { node: "a".into(), id: i, receivers: vec!["r".into()] }
        } else if i % 2 == 1 {
            EventKind::TokenIssued { node: "a".into(), id: i, receivers: vec!["r".into()] }
        } else {
            EventKind::TokenReleased { node: "a".into(), id: i - 1, receiver: "r".into() }
        };
        out.push(Event { seq: i, t: i * 1_000, ev });
    }
    out
}

/// Writes `events` as a session does: each event, then a checkpoint of the fold when due.
fn write(path: &Path, events: &[Event], policy: Option<CheckpointPolicy>) {
    let mut w = JournalWriter::create(path).unwrap().with_checkpoints(policy);
    let mut state = crate::state::Fold::new(crate::hazards::lints());
    for e in events {
        w.append(e).unwrap();
        state.apply(e);
        if w.checkpoint_due() {
            w.checkpoint(state.state()).unwrap();
        }
    }
    w.finish().unwrap();
}

fn fold(events: &[Event], n: usize) -> State {
    let mut s = crate::state::Fold::new(crate::hazards::lints());
    for e in &events[..n] {
        s.apply(e);
    }
    s.into_state()
}

const SMALL: CheckpointPolicy = CheckpointPolicy { every_events: 1_000, every_bytes: 1 << 30, ratio: 0 };

#[test]
fn a_record_reads_back_as_it_was_written() {
    let evs = events(700);
    let state = fold(&evs, 700);
    let mut line = Vec::new();
    write_record(&mut line, (699, 699_000), 700, 12_345, &state).unwrap();
    assert!(line.ends_with(b",\"offset\":12345}}}\n"));
    let body = &line[..line.len() - 1];
    let head = checkpoint_head(body).unwrap();
    assert_eq!((head.seq, head.t, head.fold, head.applied), (699, 699_000, FOLD_VERSION, 700));
    let (offset, tail) = tail_offset(body).unwrap();
    assert_eq!(offset, 12_345);
    assert_eq!(decode(&body[head.len..body.len() - tail]).unwrap(), state);
    assert!(is_checkpoint(&line[..60]), "a cut checkpoint is still known by its start");
    // An old reader skips it as an event of a kind it does not know: it has the envelope.
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!((v["seq"].as_u64(), v["t"].as_u64()), (Some(699), Some(699_000)));
    assert!(v["ev"]["checkpoint"].is_object());
    // No event line is taken for one.
    let event = serde_json::to_vec(&evs[5]).unwrap();
    assert!(!is_checkpoint(&event) && checkpoint_head(&event).is_none() && tail_offset(&event).is_none());
}

#[test]
fn the_nearest_checkpoint_before_any_moment_is_found_in_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let evs = events(5_500);
    write(&path, &evs, Some(SMALL));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().filter(|l| is_checkpoint(l.as_bytes())).count(), 5, "one every 1,000 events");
    // Readers pass over them: the events read back are the events written.
    let (read, summary) = crate::journal::read_all(&path).unwrap();
    assert_eq!((read.as_slice(), summary.unknown_kinds, summary.damaged), (evs.as_slice(), 0, 0));
    for (n, expect) in [(1, None), (999, None), (1_000, Some(1_000)), (1_001, Some(1_000)), (4_321, Some(4_000))]
        .into_iter()
        .chain([(5_500, Some(5_000)), (9_999, Some(5_000))])
    {
        match (nearest(&path, Moment::Events(n), 0).unwrap(), expect) {
            (Nearest::Found(f), Some(applied)) => {
                assert_eq!(f.applied, applied, "before event {n}");
                assert_eq!(f.state, fold(&evs, applied as usize), "the state after {applied} events");
                // The reading goes on from the event after it.
                let mut r = crate::journal::JournalReader::open_at(
                    std::slice::from_ref(&path),
                    crate::journal::Position { file: 0, offset: f.next },
                )
                .unwrap();
                assert_eq!(r.next_event().unwrap().as_ref(), evs.get(applied as usize));
            }
            (Nearest::FromStart, None) => {}
            (other, _) => panic!("before event {n}: {other:?}, expected {expect:?}"),
        }
    }
    // By time: the last checkpoint whose last event is at or before it.
    let Nearest::Found(f) = nearest(&path, Moment::Time(3_998_999), 0).unwrap() else { panic!() };
    assert_eq!((f.applied, f.t), (3_000, 2_999_000));
    let Nearest::Found(f) = nearest(&path, Moment::Time(3_999_000), 0).unwrap() else { panic!() };
    assert_eq!((f.applied, f.t), (4_000, 3_999_000));
    // Its end, from the end of the file (the last record is the last event here).
    assert_eq!(last_record(&path).unwrap(), Some((5_499, 5_499_000)));
    // A reader already past it folds on.
    assert!(matches!(nearest(&path, Moment::Events(4_500), 4_000).unwrap(), Nearest::Behind));
    assert!(matches!(nearest(&path, Moment::Events(4_500), 3_999).unwrap(), Nearest::Found(_)));
}

#[test]
fn a_journal_without_checkpoints_is_told_and_a_damaged_one_is_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.jsonl");
    let evs = events(3_000);
    write(&path, &evs, None);
    assert!(holds_checkpoints(&path).unwrap(), "short enough to need none");
    assert!(matches!(nearest(&path, Moment::Events(2_900), 0).unwrap(), Nearest::FromStart));
    // Past the first megabytes without one: it has none.
    let long = dir.path().join("long.jsonl");
    write(&long, &events(150_000), None);
    assert!(std::fs::metadata(&long).unwrap().len() > FIRST_WITHIN);
    assert!(!holds_checkpoints(&long).unwrap());
    let long = dir.path().join("long-with.jsonl");
    write(&long, &events(150_000), Some(CheckpointPolicy { every_events: 90_000, ..SMALL }));
    assert!(holds_checkpoints(&long).unwrap());
    // A checkpoint whose state is damaged: the one before is used.
    let path = dir.path().join("damaged.jsonl");
    write(&path, &evs, Some(SMALL));
    let text = std::fs::read_to_string(&path).unwrap();
    let second = text.match_indices("\"applied\":2000,\"state\":{").next().unwrap().0;
    let mut bytes = text.into_bytes();
    bytes[second + 24] = b'#';
    std::fs::write(&path, &bytes).unwrap();
    let Nearest::Found(f) = nearest(&path, Moment::Events(2_500), 0).unwrap() else { panic!() };
    assert_eq!(f.applied, 1_000);
    // Its last record is a checkpoint (after event 2,999): the end is that event's.
    assert!(text_ends_with_checkpoint(&path));
    assert_eq!(last_record(&path).unwrap(), Some((2_999, 2_999_000)));
}

fn text_ends_with_checkpoint(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().last().is_some_and(|l| is_checkpoint(l.as_bytes()))
}

#[test]
fn checkpoints_add_at_most_a_tenth_however_large_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    // Every 50 events, were it not for the ratio: the state (lent tokens) grows without end.
    let policy = CheckpointPolicy { every_events: 50, every_bytes: 1 << 30, ratio: 10 };
    write(&path, &events_stuck(30_000, 61), Some(policy));
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut checkpoints, mut events) = (0usize, 0usize);
    for line in text.lines() {
        if is_checkpoint(line.as_bytes()) {
            checkpoints += line.len() + 1;
        } else {
            events += line.len() + 1;
        }
    }
    assert!(checkpoints > 0 && checkpoints * 10 <= events, "{checkpoints} bytes of checkpoints, {events} of events");
}

/// `(FOLD_VERSION, hash of the fold of demo.jsonl)`, every version the fold has had: a new one
/// is added when the fold changes.
const FOLD_PINS: &[(u32, u64)] = &[(1, 0xa59c_becf_316e_18f9)];

/// The fold of a fixed journal, hashed: when it changes, checkpoints written before are stale,
/// and [`FOLD_VERSION`] must change with it.
#[test]
fn the_fold_version_is_bumped_when_the_fold_changes() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/replay/demo.jsonl");
    let (events, _) = crate::journal::read_all(Path::new(demo)).unwrap();
    let mut state = crate::state::Fold::new(crate::hazards::lints());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut bytes = Vec::new();
    for (i, e) in events.iter().enumerate() {
        state.apply(e);
        if i % 50 == 0 || i == events.len() - 1 {
            bytes.clear();
            encode(state.state(), &mut bytes).unwrap();
            for b in &bytes {
                hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let pinned = FOLD_PINS.iter().find(|p| p.1 == hash);
    assert!(
        pinned.is_some_and(|p| p.0 == FOLD_VERSION) && FOLD_PINS.iter().all(|p| p.0 <= FOLD_VERSION),
        "the fold of tests/fixtures/replay/demo.jsonl is not what FOLD_VERSION {FOLD_VERSION} folds it into \
         (hash {hash:#018x}): checkpoints of the old fold would replay stale states. Bump FOLD_VERSION in \
         src/journal/checkpoint.rs and add ({}, {hash:#018x}) to FOLD_PINS in src/journal/checkpoint/tests.rs",
        FOLD_VERSION + u32::from(pinned.is_none())
    );
}
