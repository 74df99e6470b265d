//! The demo's Rust nodes, run as `gracewatch demo-node NAME`.
//!
//! - `forker` (DESIGN failure 5): starts a tokio runtime with worker threads, then forks
//!   without exec. gracewatch flags `fork-without-exec-threaded`.
//! - `steady`: a well-behaved Rust node: tokio runtime, handlers on the main thread, listens
//!   for the stop message, lends and returns tokens, stops in milliseconds. No hazard.

use crate::node::Client;
use crate::signal::Signal;
use std::process::ExitCode;
use std::time::Duration;

/// Why a demo node could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("no demo node {0:?} (forker, steady)")]
    NoSuchNode(String),
    #[error("cannot start tokio: {0}")]
    Runtime(#[source] std::io::Error),
}

pub(crate) fn run(name: &str) -> Result<ExitCode, Error> {
    match name {
        "forker" => forker(),
        "steady" => steady(),
        other => Err(Error::NoSuchNode(other.to_string())),
    }
}

fn runtime(workers: usize) -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("tokio-worker")
        .enable_time()
        .build()
        .map_err(Error::Runtime)
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The child of the demo fork: raw syscalls only (a real program would deadlock here sooner
/// or later on a lock held by a thread that does not exist in the child).
fn forked_child() -> i32 {
    let msg = b"forker child: I am a copy of a multi-threaded tokio process that did not exec\n";
    let _ = rustix::io::write(rustix::stdio::stdout(), msg);
    for _ in 0..600 {
        let _ = rustix::thread::nanosleep(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 100_000_000 });
    }
    0
}

fn forker() -> Result<ExitCode, Error> {
    let gw = Client::from_env();
    let _ = gw.watch_forks(false);
    let rt = runtime(4)?;
    gw.set_runtime_running(true);
    let stop = gw.stop_on_signals(&[Signal::TERM, Signal::INT], "demo-forker");
    rt.block_on(async {
        say("forker: tokio runtime up with 4 worker threads; forking without exec in 1s");
        for i in 0..4 {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(500 + i * 100)).await;
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        match crate::sys::demo_fork::fork_without_exec(forked_child) {
            Ok(pid) => say(&format!("forker: forked child {pid} without exec")),
            Err(e) => say(&format!("forker: fork failed: {e}")),
        }
        let why = stop.requested().await;
        say(&format!("forker: stopping ({why:?})"));
    });
    gw.flush(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}

fn steady() -> Result<ExitCode, Error> {
    let gw = Client::from_env();
    let _ = gw.watch_forks(false);
    let rt = runtime(2)?;
    gw.set_runtime_running(true);
    let stop = gw.stop_on_signals(&[Signal::TERM, Signal::INT], "demo-steady");
    let logger = gw.receiver("logger");
    rt.block_on(async {
        say("steady: a well-behaved Rust node: lends buffers to `logger`, which returns them at once");
        let mut frames = 0u64;
        loop {
            tokio::select! {
                why = stop.requested() => {
                    say(&format!("steady: stop received ({why:?}) after {frames} frames; shutting down cleanly"));
                    break;
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    let t = gw.lend(&[logger]);
                    gw.returned(t, logger);
                    frames += 1;
                }
            }
        }
    });
    gw.flush(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}
