// Benchmark set-up may panic: a failed set-up is a failed benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Throughput of the event path: journal append, the fold, and (for node messages) decode +
//! fold. Reported in events per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gracewatch::event::{Event, EventKind, Header, Stream};
use gracewatch::manifest::NodeSpec;
use gracewatch::state::Fold;
use std::hint::black_box;

const N: u64 = 100_000;

fn header(nodes: usize) -> Event {
    let h = Header::synthetic(
        "bench",
        (0..nodes).map(|i| NodeSpec::with_defaults(&format!("node{i}"), vec!["x".into()])).collect(),
    );
    Event { seq: 0, t: 0, ev: EventKind::SessionStarted(Box::new(h)) }
}

/// A realistic mix: mostly tokens and output, some samples.
fn events() -> Vec<Event> {
    let mut out = Vec::with_capacity(N as usize);
    for i in 0..N {
        let node = format!("node{}", i % 50);
        let ev = match i % 10 {
            0..=3 => EventKind::TokenIssued { node, id: i, receivers: vec!["detector".into(), "logger".into()] },
            4..=6 => EventKind::TokenReleased { node, id: i - 4, receiver: "detector".into() },
            7 | 8 => EventKind::Output {
                node,
                stream: Stream::Stdout,
                line: format!("frame {i} processed in 3.2ms"),
                truncated_from: None,
            },
            _ => EventKind::Usage { node, cpu_permille: (i % 1000) as u32, rss_kib: 10_240 },
        };
        out.push(Event { seq: i + 1, t: i * 1000, ev });
    }
    out
}

fn bench(c: &mut Criterion) {
    let evs = events();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);

    g.bench_function("fold", |b| {
        b.iter(|| {
            let mut s = Fold::new(gracewatch::hazards::lints());
            s.apply(&header(50));
            for e in &evs {
                s.apply(e);
            }
            black_box(s.events_applied)
        });
    });

    let lines: Vec<Vec<u8>> = evs.iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
    g.bench_function("journal_decode_and_fold", |b| {
        b.iter(|| {
            let mut s = Fold::new(gracewatch::hazards::lints());
            s.apply(&header(50));
            for l in &lines {
                let e: Event = serde_json::from_slice(l).unwrap();
                s.apply(&e);
            }
            black_box(s.events_applied)
        });
    });

    // What the supervisor does with node messages: decode the line, fold the event.
    let wire_lines: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let id = i / 2 + 1;
            if i % 2 == 0 {
                format!("{{\"type\":\"token_issued\",\"id\":{id},\"receivers\":[\"detector\"]}}").into_bytes()
            } else {
                format!("{{\"type\":\"token_released\",\"id\":{id},\"receiver\":\"detector\"}}").into_bytes()
            }
        })
        .collect();
    g.bench_function("wire_decode_and_fold", |b| {
        b.iter(|| {
            let mut s = Fold::new(gracewatch::hazards::lints());
            s.apply(&header(1));
            for (i, l) in wire_lines.iter().enumerate() {
                let ev = match gracewatch::wire::decode_node_line(l).unwrap() {
                    gracewatch::wire::NodeMsg::TokenIssued { id, receivers } => {
                        EventKind::TokenIssued { node: "node0".into(), id, receivers }
                    }
                    gracewatch::wire::NodeMsg::TokenReleased { id, receiver } => {
                        EventKind::TokenReleased { node: "node0".into(), id, receiver }
                    }
                    _ => unreachable!(),
                };
                s.apply(&Event { seq: i as u64 + 1, t: i as u64, ev });
            }
            black_box(s.events_applied)
        });
    });

    let dir = tempfile::tempdir().unwrap();
    let mut k = 0;
    g.bench_function("journal_append", |b| {
        b.iter(|| {
            k += 1;
            let mut w = gracewatch::journal::JournalWriter::create(&dir.path().join(format!("j{k}.jsonl"))).unwrap();
            for e in &evs {
                w.append(e).unwrap();
            }
            w.finish().unwrap();
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
