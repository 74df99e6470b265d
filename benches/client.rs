// Benchmark set-up may panic: a failed set-up is a failed benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the node client costs on the node's own thread: lending a buffer and getting it back.
//! A real connection (a Unix socket server in a thread that drains it); the queue is flushed
//! between timed batches so every call takes the queued path, not the cheaper dropped one.

use criterion::{Criterion, criterion_group, criterion_main};
use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

fn fake_supervisor(path: &std::path::Path) {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut hello = String::new();
        reader.read_line(&mut hello).unwrap();
        (&stream)
            .write_all(b"{\"type\":\"welcome\",\"session\":\"bench\",\"node\":\"bench\",\"protocol\":1}\n")
            .unwrap();
        let mut sink = vec![0u8; 1 << 16];
        while reader.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("node.sock");
    fake_supervisor(&sock);
    // SAFETY (of the test set-up): set before any other thread of this process reads the
    // environment.
    unsafe {
        std::env::set_var("GRACEWATCH_SOCKET", &sock);
        std::env::set_var("GRACEWATCH_NODE", "bench");
        std::env::set_var("GRACEWATCH_SECRET", "s");
    }
    let gw = gracewatch::node::Client::from_env();
    assert!(gw.is_connected());
    let detector = gw.receiver("detector");
    c.bench_function("client/lend_and_return", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(20_000);
                let start = Instant::now();
                for _ in 0..n {
                    let t = gw.lend(std::hint::black_box(&[detector]));
                    gw.returned(t, detector);
                }
                total += start.elapsed();
                gw.flush(Duration::from_secs(10));
                left -= n;
            }
            total
        });
    });
    assert_eq!(gw.dropped(), 0, "every call took the queued path");
    let off = gracewatch::node::Client::disconnected();
    let r = off.receiver("detector");
    c.bench_function("client/lend_and_return_outside_gracewatch", |b| {
        b.iter(|| {
            let t = off.lend(std::hint::black_box(&[r]));
            off.returned(t, r);
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
