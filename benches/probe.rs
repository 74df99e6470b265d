//! What the probe costs.
//!
//! 1. Micro (criterion): one `/proc/PID/stat` read hand-parsed through a held directory fd
//!    against `procfs::Process::stat()`, a children list, and a thread listing.
//! 2. Idle cost (the DESIGN target: ≤ 0.02 s of supervisor CPU over 30 s with 50 idle nodes,
//!    nobody attached): 50 idle processes watched as 50 nodes, the CPU time of this whole
//!    process (`CLOCK_PROCESS_CPUTIME_ID`: every probe thread) from the first `watch` to 30 s
//!    later, with the kernel connector and with polling only. Printed, not asserted.
//!
//! `cargo bench --bench probe` runs everything (about three minutes); under `cargo test` a
//! short smoke run only. `GW_BENCH_SECS` overrides the length of the idle measurements.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::Criterion;
use gracewatch::event::EventKind;
use gracewatch::probe::read::{Buf, ProcDir};
use gracewatch::probe::{Probe, ProbeConfig};
use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn micro(c: &mut Criterion) {
    let me = std::process::id();
    let dir = ProcDir::open(me).unwrap();
    let mut buf = Buf::new();
    c.bench_function("stat, hand-parsed via held dir fd", |b| b.iter(|| black_box(dir.stat(&mut buf).unwrap())));
    let p = procfs::process::Process::myself().unwrap();
    c.bench_function("stat, procfs::Process::stat", |b| b.iter(|| black_box(p.stat().unwrap())));
    let mut index = gracewatch::probe::children::ChildIndex::default();
    let name = if gracewatch::probe::children::per_task_files() {
        "children of a process (per-thread files)"
    } else {
        "children of a process (one /proc pass, this kernel has no per-thread files)"
    };
    c.bench_function(name, |b| {
        b.iter(|| {
            index.invalidate();
            black_box(index.children(me, Instant::now()).len())
        });
    });
    c.bench_function("thread ids (task dir)", |b| b.iter(|| black_box(dir.tids().unwrap())));
}

fn cpu_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(n: usize, python: bool) -> Nodes {
    let code = "import threading, time\nthreading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\ntime.sleep(3600)";
    Nodes(
        (0..n)
            .map(|_| {
                let mut cmd = if python {
                    let mut c = Command::new("python3");
                    c.args(["-c", code]);
                    c
                } else {
                    let mut c = Command::new("sleep");
                    c.arg("3600");
                    c
                };
                cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn().unwrap()
            })
            .collect(),
    )
}

/// CPU seconds of this process over `secs` with `n` watched idle nodes.
fn idle_cost(n: usize, python: bool, connector: bool, secs: u64) {
    let nodes = spawn(n, python);
    // Let the processes get past their start-up (python: exec chains, imports).
    std::thread::sleep(Duration::from_secs(if python { 3 } else { 1 }));
    let events = Arc::new(AtomicUsize::new(0));
    let counted = events.clone();
    let config = ProbeConfig { connector, ..ProbeConfig::default() };
    let probe = Probe::start(
        config,
        Box::new(move |_ev: EventKind| {
            counted.fetch_add(1, Ordering::Relaxed);
        }),
    )
    .unwrap();
    // The connector decides within a second; do not count its start.
    std::thread::sleep(Duration::from_millis(1_200));
    let mode = probe.mode();
    let (before, conn_before, probe_before, forks_before) =
        (cpu_ns(), thread_cpu_ns("gw-connector"), thread_cpu_ns("gw-probe"), system_forks());
    let t0 = Instant::now();
    for (i, child) in nodes.0.iter().enumerate() {
        probe.watch(&format!("node{i}"), child.id());
    }
    // With the default cadence (1 s, then doubling to 5 s) the cheap rounds fall at about 1, 3,
    // 7, 12, 17, 22 and 27 s: between 7.5 s and 27.5 s there are exactly four of them.
    let mut per_round = None;
    if secs >= 30 {
        std::thread::sleep(Duration::from_millis(7_500));
        let a = thread_cpu_ns("gw-probe");
        std::thread::sleep(Duration::from_secs(20));
        per_round = Some((thread_cpu_ns("gw-probe") - a) / 4);
        std::thread::sleep(Duration::from_secs(secs).saturating_sub(t0.elapsed()));
    } else {
        std::thread::sleep(Duration::from_secs(secs));
    }
    let spent = cpu_ns() - before;
    let wall = t0.elapsed();
    let evs = events.load(Ordering::Relaxed);
    let forks = system_forks() - forks_before;
    let (conn, probe_cpu) = (thread_cpu_ns("gw-connector") - conn_before, thread_cpu_ns("gw-probe") - probe_before);
    drop(probe);
    println!(
        "idle cost: {n} {} nodes, {:?} mode: {:.4} s CPU over {:.1} s (probe thread {:.4} s, connector thread {:.4} s; {evs} events; {:.1} system forks/s meanwhile){}",
        if python { "python (2 threads)" } else { "sleep" },
        mode,
        spent as f64 / 1e9,
        wall.as_secs_f64(),
        probe_cpu as f64 / 1e9,
        conn as f64 / 1e9,
        forks as f64 / wall.as_secs_f64(),
        per_round.map(|ns| format!("; one idle round of all {n}: {:.0} µs", ns as f64 / 1e3)).unwrap_or_default(),
    );
}

/// Forks since boot, threads included (`/proc/stat` `processes`).
fn system_forks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    stat.lines().find_map(|l| l.strip_prefix("processes ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// CPU nanoseconds of this process's thread named `name` (`/proc/self/task/*/schedstat`).
fn thread_cpu_ns(name: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let sched = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            total += sched.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total
}

/// What the connector costs while the machine forks `n` unrelated short processes.
fn storm_cost(n: usize, connector: bool) {
    let nodes = spawn(50, false);
    std::thread::sleep(Duration::from_secs(1));
    let config = ProbeConfig { connector, ..ProbeConfig::default() };
    let probe = Probe::start(config, Box::new(|_ev: EventKind| {})).unwrap();
    for (i, child) in nodes.0.iter().enumerate() {
        probe.watch(&format!("node{i}"), child.id());
    }
    std::thread::sleep(Duration::from_millis(1_500));
    let (before, conn_before, probe_before, forks_before) =
        (cpu_ns(), thread_cpu_ns("gw-connector"), thread_cpu_ns("gw-probe"), system_forks());
    let t0 = Instant::now();
    // The storm runs in a shell (its forks are the shell's, not ours).
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("i=0; while [ $i -lt {n} ]; do /bin/true; i=$((i+1)); done"))
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(200));
    let forks = system_forks() - forks_before;
    let (spent, conn, probe_cpu) =
        (cpu_ns() - before, thread_cpu_ns("gw-connector") - conn_before, thread_cpu_ns("gw-probe") - probe_before);
    println!(
        "fork storm: {n} unrelated processes ({forks} system forks in {:.1} s), {:?} mode: {:.4} s CPU (connector thread {:.4} s = {:.2} µs per fork, probe thread {:.4} s)",
        t0.elapsed().as_secs_f64(),
        probe.mode(),
        spent as f64 / 1e9,
        conn as f64 / 1e9,
        conn as f64 / 1e3 / forks.max(1) as f64,
        probe_cpu as f64 / 1e9,
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default().configure_from_args();
    micro(&mut c);
    c.final_summary();
    if !bench {
        // `cargo test --all-targets`: a smoke run, a few seconds.
        idle_cost(50, false, true, 1);
        storm_cost(50, true);
        return;
    }
    let secs = std::env::var("GW_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    for python in [false, true] {
        for connector in [true, false] {
            idle_cost(50, python, connector, secs);
        }
    }
    for connector in [true, false] {
        storm_cost(2_000, connector);
    }
}
