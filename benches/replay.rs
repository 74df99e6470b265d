// Benchmark set-up may panic: a failed set-up is a failed benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::many_single_char_names)]
//! Replay of a large journal: opening it (the first frame needs only the header), building the
//! index, and seeking anywhere once it is built. Under `cargo bench` the journal has 10 million
//! events (about 1 GB); under `cargo test` a small one, so the suite stays fast.

use criterion::{Criterion, criterion_group, criterion_main};
use gracewatch::event::{
    Event, EventKind, FORMAT_VERSION, Header, ProcSample, SessionMode, SigSet, Signal, Stream, ThreadSample,
};
use gracewatch::manifest::{Manifest, NodeSpec};
use gracewatch::replay::Player;
use std::io::Write;
use std::time::{Duration, Instant};

fn events_wanted() -> u64 {
    if std::env::args().any(|a| a == "--bench") { 10_000_000 } else { 200_000 }
}

/// A journal shaped like a busy session: 50 nodes, tokens, output, samples, stops at the end.
fn generate(path: &std::path::Path, n: u64) {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let nodes: Vec<NodeSpec> = (0..50)
        .map(|i| NodeSpec::with_defaults(&format!("node{i:02}"), vec!["python3".into(), "worker.py".into()]))
        .collect();
    let header = Header {
        format: FORMAT_VERSION,
        version: "bench".into(),
        session: "big".into(),
        mode: SessionMode::Up,
        host: "h".into(),
        pid: 1,
        started_unix_ms: 1_795_000_000_000,
        started: "2026-11-20T00:00:00Z".into(),
        monotonic_ns: 0,
        journal: None,
        manifest: Manifest {
            name: "big".into(),
            path: None,
            nodes,
            hazards: std::collections::BTreeMap::default(),
            probe_interval_ms: 250,
        },
    };
    let mut write = |e: &Event| {
        serde_json::to_writer(&mut out, e).unwrap();
        out.write_all(b"\n").unwrap();
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
    while seq < n {
        let node = format!("node{:02}", seq % 50);
        let ev = match seq % 20 {
            0..=7 => EventKind::TokenIssued { node, id: seq, receivers: vec!["detector".into()] },
            8..=15 => EventKind::TokenReleased { node, id: seq - 8, receiver: "detector".into() },
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
                },
            },
        };
        write(&Event { seq, t: seq * step, ev });
        seq += 1;
    }
}

fn bench(c: &mut Criterion) {
    let n = events_wanted();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let t0 = Instant::now();
    generate(&path, n);
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!("replay bench: generated {n} events, {:.0} MB, in {:.1?}", size as f64 / 1e6, t0.elapsed());

    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.bench_function("open_first_frame", |b| {
        b.iter(|| {
            let p = Player::open(&path).unwrap();
            let snap = gracewatch::state::PsSnapshot::from_state(&p.state, 0);
            std::hint::black_box(snap.nodes.len())
        });
    });

    let mut p = Player::open(&path).unwrap();
    let t0 = Instant::now();
    while !p.index.read().unwrap().complete {
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("replay bench: index of {n} events built in {:.2?}", t0.elapsed());
    let end_t = p.index.read().unwrap().end_t;
    let mut k = 0u64;
    g.bench_function("seek_anywhere", |b| {
        b.iter(|| {
            // A pseudo-random walk over the whole session, backwards and forwards.
            k = (k * 6_364_136_223_846_793_005 + 1_442_695_040_888_963_407) % 1_000_003;
            let t = end_t / 1_000_003 * k;
            p.seek_to_time(t);
            std::hint::black_box(p.applied)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
