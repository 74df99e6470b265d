// Benchmark set-up may panic: a failed set-up is a failed benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::many_single_char_names)]
//! Replay of a large journal, as the operator sees it: the first frame (opening the journal and
//! rendering the replay screen into a 160x45 `TestBackend`), building the index, and a seek
//! anywhere followed by the frame it shows. Under `cargo bench` the journal has 10 million events
//! (about 1.2 GB); under `cargo test` a small one, so the suite stays fast.
//! Targets (DESIGN.md): first frame ≤ 1 s, any seek ≤ 200 ms.
//!
//! `-- checkpointed`: the same session written with checkpoints inside (format 1.1), opened
//! for the first time (no index, no cache file): what checkpoints add to the journal, the first
//! frame, and a seek anywhere right after the open (issue 11: first frame ≤ 100 ms, seek + frame
//! ≤ 200 ms, growth ≤ 10%).

use criterion::{Criterion, criterion_group, criterion_main};
use gracewatch::event::{
    Event, EventKind, ExitCause, Header, ProcSample, Requester, SigSet, Signal, StageAction, StopMode, Stream,
    ThreadSample,
};
use gracewatch::journal::checkpoint::{Moment, Nearest, is_checkpoint, nearest};
use gracewatch::journal::{JournalReader, JournalWriter, Position};
use gracewatch::manifest::NodeSpec;
use gracewatch::replay::recorder::{RECORD_FROM_EVENTS, Recorder};
use gracewatch::state::Fold;
use gracewatch::tui::action::ReplayCmd;
use gracewatch::tui::replay_driver::{ReplayOptions, ReplaySession};
use gracewatch::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::io::Write;
use std::time::{Duration, Instant};

fn events_wanted() -> u64 {
    if std::env::args().any(|a| a == "--bench") { 10_000_000 } else { 200_000 }
}

/// A journal shaped like a busy session: 50 nodes lending drop tokens (every token goes back to
/// the node that lent it, except node00's: its receiver is stuck, so its pending tokens pile up,
/// about 80,000 by the end), output, samples, and a stop of everything at the end.
/// With a `recorder`, each event is shown to it as a session's hub does while it writes.
/// With `checkpoints`, it is written as a session writes it: through a `JournalWriter` that
/// takes a checkpoint of the fold when one is due (format 1.1); else line by line with no
/// checkpoint, as a journal from before them (format 1.0).
/// Returns the longest a checkpoint took to write (on the thread that appends, as the hub's).
fn generate(path: &std::path::Path, n: u64, recorder: Option<&Recorder>, checkpoints: bool) -> Duration {
    let mut slowest = Duration::ZERO;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut journal = checkpoints.then(|| {
        std::fs::remove_file(path).unwrap();
        (JournalWriter::create(path).unwrap(), Fold::new(gracewatch::hazards::lints()))
    });
    let mut bytes = 0u64;
    let mut line = Vec::with_capacity(512);
    let nodes: Vec<NodeSpec> = (0..50)
        .map(|i| NodeSpec::with_defaults(&format!("node{i:02}"), vec!["python3".into(), "worker.py".into()]))
        .collect();
    let header = Header {
        version: "bench".into(),
        host: "h".into(),
        started_unix_ms: 1_795_000_000_000,
        started: "2026-11-20T00:00:00Z".into(),
        format_minor: u32::from(checkpoints),
        ..Header::synthetic("big", nodes)
    };
    let mut write = |e: &Event| {
        if let Some((w, state)) = &mut journal {
            w.append(e).unwrap();
            state.apply(e);
            if w.checkpoint_due() {
                let t0 = Instant::now();
                w.checkpoint(state.state()).unwrap();
                slowest = slowest.max(t0.elapsed());
            }
            return;
        }
        line.clear();
        serde_json::to_writer(&mut line, e).unwrap();
        line.push(b'\n');
        out.write_all(&line).unwrap();
        bytes += line.len() as u64;
        if let Some(r) = recorder {
            r.observe(std::sync::Arc::new(e.clone()), bytes);
        }
    };
    write(&Event { seq: 0, t: 0, ev: EventKind::SessionStarted(Box::new(header)) });
    let mut seq = 1;
    for i in 0..50u32 {
        write(&Event {
            seq,
            t: seq * 1000,
            ev: EventKind::NodeSpawned {
                node: format!("node{i:02}"),
                pid: 1000 + i,
                pgid: 1000 + i,
                argv: vec!["python3".into(), "worker.py".into()],
            },
        });
        seq += 1;
    }
    let step = 100_000; // 100 µs apart: 10M events ≈ 17 minutes of session
    let stop_events = 1 + 3 * 50;
    while seq < n.saturating_sub(stop_events) {
        let node = format!("node{:02}", seq % 50);
        let lender = (seq - 8) % 50;
        let ev = match seq % 20 {
            0..=7 => EventKind::TokenIssued { node, id: seq, receivers: vec!["detector".into()] },
            // node00's receiver is stuck: it never gives a token back.
            8..=15 if lender == 0 => EventKind::Usage { node, cpu_permille: 10, rss_kib: 51_200 },
            8..=15 => {
                EventKind::TokenReleased { node: format!("node{lender:02}"), id: seq - 8, receiver: "detector".into() }
            }
            16 | 17 => EventKind::Output {
                node,
                stream: Stream::Stdout,
                line: format!("frame {seq} processed in 3.2 ms, queue depth 4"),
                truncated_from: None,
            },
            18 => EventKind::Usage { node, cpu_permille: (seq % 1000) as u32, rss_kib: 51_200 },
            _ => EventKind::ProcSampled {
                node,
                sample: ProcSample {
                    pid: 1000 + (seq % 50) as u32,
                    ppid: 1,
                    name: "python3".into(),
                    caught: [Signal::INT, Signal::TERM].into_iter().collect(),
                    ignored: SigSet::EMPTY,
                    threads: vec![ThreadSample { tid: 1, name: "python3".into(), blocked: SigSet::EMPTY }],
                    children: vec![],
                    ..ProcSample::default()
                },
            },
        };
        write(&Event { seq, t: seq * step, ev });
        seq += 1;
    }
    // Stop everything: node00, still waiting on its tokens, is killed at the deadline.
    let tiers = vec![(0..50).map(|i| format!("node{i:02}")).collect()];
    write(&Event {
        seq,
        t: seq * step,
        ev: EventKind::StopAllRequested {
            by: Requester::Ctl,
            force: false,
            tiers,
            waits: std::collections::BTreeMap::default(),
        },
    });
    seq += 1;
    for i in 0..50u32 {
        let node = format!("node{i:02}");
        let spec = NodeSpec::with_defaults(&node, vec![]);
        let plan = gracewatch::stop_engine::plan::graceful(&spec, false, gracewatch::stop_engine::Overrides::default());
        let (stage, cause) = if i == 0 {
            (StageAction::Kill, ExitCause::KilledAtDeadline)
        } else {
            (StageAction::Signal(Signal::TERM), ExitCause::Stopped)
        };
        let evs = [
            EventKind::StopRequested {
                node: node.clone(),
                by: Requester::Ctl,
                mode: StopMode::Graceful,
                plan,
                kill_at: None,
            },
            EventKind::StageEntered { node: node.clone(), stage, deadline: None },
            EventKind::NodeExited { node, pid: 1000 + i, code: None, signal: None, cause, pending_tokens: vec![] },
        ];
        for ev in evs {
            write(&Event { seq, t: seq * step, ev });
            seq += 1;
        }
    }
    if let Some((mut w, _)) = journal {
        w.finish().unwrap();
    }
    slowest
}

/// `cargo bench --bench replay -- checkpointed` runs only the journals with checkpoints inside;
/// any other filter, only the others.
fn only_checkpointed() -> Option<bool> {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"))?;
    Some(filter.contains("checkpointed"))
}

fn bench(c: &mut Criterion) {
    let n = events_wanted();
    if only_checkpointed() != Some(false) {
        checkpointed(c, n);
    }
    if only_checkpointed() != Some(true) {
        indexed(c, n);
    }
}

/// A journal with checkpoints inside (format 1.1), opened for the first time on this machine:
/// no index and no cache file. It was written just before, so it is in the page cache (which
/// cannot be dropped here). Each seek is made right after a fresh open, while the index is still
/// being read from the start: the seek starts from the checkpoint inside the journal.
fn checkpointed(c: &mut Criterion, n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.jsonl");
    let path = dir.path().join("checkpointed.jsonl");
    let _ = generate(&plain, n, None, false);
    let plain_size = std::fs::metadata(&plain).unwrap().len();
    std::fs::remove_file(&plain).unwrap();
    let t0 = Instant::now();
    let slowest = generate(&path, n, None, true);
    let size = std::fs::metadata(&path).unwrap().len();
    let (mut count, mut largest, mut stored) = (0u64, 0u64, 0u64);
    let mut reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
    let mut line = Vec::new();
    while std::io::BufRead::read_until(&mut reader, b'\n', &mut line).unwrap() > 0 {
        if is_checkpoint(&line) {
            count += 1;
            largest = largest.max(line.len() as u64);
            stored += line.len() as u64;
        }
        line.clear();
    }
    eprintln!(
        "replay bench: checkpointed journal of {n} events written in {:.1?}: {:.0} MB, {count} checkpoints \
         ({:.1} MB, the largest {:.1} MB, written in {slowest:.2?} at most): {:.2}% over the same events \
         without ({:.0} MB)",
        t0.elapsed(),
        size as f64 / 1e6,
        stored as f64 / 1e6,
        largest as f64 / 1e6,
        (size - plain_size) as f64 * 100.0 / plain_size as f64,
        plain_size as f64 / 1e6,
    );
    let screen = Rect::new(0, 0, 160, 45);
    let end_t = n * 100_000;
    // The seek itself, alone (no screen, no indexer beside it): the nearest checkpoint found in
    // the file and decoded, then the fold from it to the moment.
    let mut k = 7u64;
    let mut alone = Vec::new();
    for i in 0..16u64 {
        k = k.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407) % 1_000_003;
        let t = if i == 0 { end_t } else { end_t / 1_000_003 * k };
        let t0 = Instant::now();
        // A moment before the first checkpoint (the short journal of a test run) folds from
        // the start, as the player does: nothing to time here.
        let Nearest::Found(found) = nearest(&path, Moment::Time(t), 0).unwrap() else { continue };
        let search = t0.elapsed();
        let at = Position { file: 0, offset: found.next };
        let mut reader = JournalReader::open_at(std::slice::from_ref(&path), at).unwrap();
        let mut state = Fold::resume(found.state, gracewatch::hazards::lints());
        let mut folded = 0u64;
        while let Some(e) = reader.next_event().unwrap() {
            if e.t > t {
                break;
            }
            state.apply(&e);
            folded += 1;
        }
        alone.push((t0.elapsed(), search, folded, t * 100 / end_t));
    }
    alone.sort();
    let (median, worst) = (alone[alone.len() / 2], alone[alone.len() - 1]);
    eprintln!(
        "replay bench: checkpointed, the seek alone: median {:.2?}; worst {:.2?} at {}% of the session ({:.2?} to \
         find and decode the checkpoint, then {} events folded)",
        median.0, worst.0, worst.3, worst.1, worst.2
    );
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    let (mut firsts, mut seeks) = (Vec::new(), Vec::new());
    let mut k = 7u64;
    for i in 0..24u64 {
        // A fresh cache directory each time: nothing cached for this journal.
        let cache = dir.path().join(format!("cache-{i}"));
        let opts = ReplayOptions { theme: Some(Theme::plain()), index_cache: Some(cache), ..ReplayOptions::default() };
        k = k.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407) % 1_000_003;
        // The first and the last moments, then anywhere.
        let t = match i {
            0 => end_t,
            1 => 0,
            _ => end_t / 1_000_003 * k,
        };
        let (s, first, seek) = open_and_seek(|| ReplaySession::open(&path, &opts, screen).unwrap(), &mut terminal, t);
        assert!(!s.seeking(), "a seek in a checkpointed journal does not wait for the index");
        firsts.push(first);
        seeks.push(seek);
    }
    let stats = |v: &mut Vec<Duration>| {
        v.sort();
        (v[v.len() / 2], v[v.len() - 1])
    };
    let ((first_median, first_worst), (seek_median, seek_worst)) = (stats(&mut firsts), stats(&mut seeks));
    eprintln!(
        "replay bench: checkpointed, first open, {} opens: first frame median {first_median:.2?}, worst \
         {first_worst:.2?}; seek + frame median {seek_median:.2?}, worst {seek_worst:.2?}",
        firsts.len()
    );
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    let opts = ReplayOptions { theme: Some(Theme::plain()), ..ReplayOptions::default() };
    g.bench_function("checkpointed_first_open_seek_to_middle_and_frame", |b| {
        b.iter(|| {
            let mut s = ReplaySession::open(&path, &opts, screen).unwrap();
            s.command(ReplayCmd::Seek(end_t / 2), 0);
            terminal.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
            std::hint::black_box(s.player.applied)
        });
    });
    g.finish();
}

/// Journals without checkpoints inside (format 1.0): the index, built on open or cached.
fn indexed(c: &mut Criterion, n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let t0 = Instant::now();
    let _ = generate(&path, n, None, false);
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!("replay bench: generated {n} events, {:.0} MB, in {:.1?}", size as f64 / 1e6, t0.elapsed());

    let cache = dir.path().join("cache");
    let opts =
        ReplayOptions { theme: Some(Theme::plain()), index_cache: Some(cache.clone()), ..ReplayOptions::default() };
    let screen = Rect::new(0, 0, 160, 45);
    let open = || ReplaySession::open(&path, &opts, screen).unwrap();
    let frame = |terminal: &mut Terminal<TestBackend>, s: &ReplaySession| {
        terminal.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
    };

    // One-offs: the first frame from a cold start, then a seek to the middle right after opening,
    // while the index is still being read: the seek waits for the index to get there (the
    // screen and the keys stay live meanwhile), then folds at most one checkpoint interval.
    let t0 = Instant::now();
    let mut s = open();
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    frame(&mut terminal, &s);
    let first = t0.elapsed();
    let t0 = Instant::now();
    let middle = 100_000 * n / 2;
    s.command(ReplayCmd::Seek(middle), 0);
    frame(&mut terminal, &s);
    let asked = t0.elapsed();
    let mut frames = 1;
    while s.seeking() {
        std::thread::sleep(Duration::from_millis(33));
        s.tick(0);
        frame(&mut terminal, &s);
        frames += 1;
    }
    eprintln!(
        "replay bench: cold first frame {first:.2?}; a seek to the middle while indexing: {asked:.2?} to answer, \
         {:.2?} until shown ({frames} frames drawn meanwhile, at event {})",
        t0.elapsed(),
        s.player.applied
    );
    drop(s);

    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.bench_function("first_frame", |b| {
        b.iter(|| {
            let s = open();
            let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
            frame(&mut terminal, &s);
            std::hint::black_box(terminal.backend().buffer().area.width)
        });
    });

    let mut s = open();
    let t0 = Instant::now();
    while !s.player.index.read().unwrap().complete {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.sync_index(0);
    eprintln!("replay bench: index of {n} events built in {:.2?}", t0.elapsed());
    let end_t = s.player.index.read().unwrap().end_t;
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    let worst = seek_anywhere(&mut g, "seek_anywhere_and_frame", &mut s, &mut terminal, end_t);
    eprintln!("replay bench: slowest seek + frame seen: {worst:.2?}");
    drop(s);

    // The same journal opened again: the index comes from the on-disk cache the first open
    // wrote, so a seek anywhere is answered at once; each reads one stored state.
    let t0 = Instant::now();
    let written = loop {
        let found = std::fs::read_dir(&cache)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .find(|e| e.path().extension().is_some_and(|x| x == "idx"));
        if let Some(f) = found {
            break f.path();
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "no index cache written");
        std::thread::sleep(Duration::from_millis(20));
    };
    let cached_bytes = std::fs::metadata(&written).unwrap().len();
    let (mut s, first, seek) = open_and_seek(open, &mut terminal, middle);
    eprintln!(
        "replay bench: cache {:.0} MB with {} checkpoints; reopened: first frame {first:.2?}, seek to the middle \
         {seek:.2?} (still seeking: {})",
        cached_bytes as f64 / 1e6,
        s.player.index.read().unwrap().checkpoints.len(),
        s.seeking()
    );
    let worst = seek_anywhere(&mut g, "reopened_seek_anywhere_and_frame", &mut s, &mut terminal, end_t);
    eprintln!("replay bench: reopened, slowest seek + frame seen: {worst:.2?}");
    drop(s);

    // A journal recorded by a session, which left its index in the cache as it closed the
    // journal: its very first open seeks at once.
    let recorded = dir.path().join("recorded.jsonl");
    let recorder = Recorder::start().unwrap();
    let _ = generate(&recorded, n, Some(&recorder), false);
    let recorded_cache = dir.path().join("recorded-cache");
    let t0 = Instant::now();
    recorder.finish(&recorded, &recorded_cache, RECORD_FROM_EVENTS).unwrap();
    let closing = t0.elapsed();
    let opts = ReplayOptions { index_cache: Some(recorded_cache), ..opts.clone() };
    let (mut s, first, seek) =
        open_and_seek(|| ReplaySession::open(&recorded, &opts, screen).unwrap(), &mut terminal, middle);
    eprintln!(
        "replay bench: recorded with its index (left in {closing:.2?} at the session's end); first open: first frame \
         {first:.2?}, seek to the middle {seek:.2?} (still seeking: {})",
        s.seeking()
    );
    let worst = seek_anywhere(&mut g, "recorded_first_open_seek_anywhere_and_frame", &mut s, &mut terminal, end_t);
    eprintln!("replay bench: recorded, first open, slowest seek + frame seen: {worst:.2?}");
    g.finish();
}

/// Opens a replay and draws its first frame, then seeks to `t` and draws that: the session,
/// the time to the first frame, the time to the seek's frame.
fn open_and_seek(
    open: impl Fn() -> ReplaySession,
    terminal: &mut Terminal<TestBackend>,
    t: u64,
) -> (ReplaySession, Duration, Duration) {
    let t0 = Instant::now();
    let mut s = open();
    terminal.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
    let first = t0.elapsed();
    let t0 = Instant::now();
    s.command(ReplayCmd::Seek(t), 0);
    terminal.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
    (s, first, t0.elapsed())
}

/// Benchmarks seeks along a pseudo-random walk over the whole session, backwards and forwards,
/// each followed by the frame it shows; returns the slowest seen.
fn seek_anywhere(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    s: &mut ReplaySession,
    terminal: &mut Terminal<TestBackend>,
    end_t: u64,
) -> Duration {
    let mut k = 0u64;
    let mut worst = Duration::ZERO;
    g.bench_function(name, |b| {
        b.iter(|| {
            k = k.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407) % 1_000_003;
            let t = end_t / 1_000_003 * k;
            let t0 = Instant::now();
            s.command(ReplayCmd::Seek(t), 0);
            terminal.draw(|f| f.render_widget(&s.screen(), f.area())).unwrap();
            worst = worst.max(t0.elapsed());
            std::hint::black_box(s.player.applied)
        });
    });
    worst
}

criterion_group!(benches, bench);
criterion_main!(benches);
