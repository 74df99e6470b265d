//! The client's connection: handshake, the bounded queue and its sender thread, the reader
//! thread that receives `stop`.

use super::stop::{Stop, StopReason};
use crate::signal::Signal;
use crate::wire::{self, NodeMsg, SupervisorMsg};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// Messages queued before the caller's calls start being dropped (and counted).
pub const QUEUE_CAPACITY: usize = 65_536;

pub use crate::wire::Outcome;

pub(crate) enum Receivers {
    One(u32),
    Two(u32, u32),
    Many(Box<[u32]>),
}

pub(crate) enum Msg {
    Issued(u64, Receivers),
    Released(u64, u32),
    Handler {
        signal: Signal,
        outcome: Outcome,
        owner: String,
        thread: String,
        main_thread: bool,
        error: Option<String>,
    },
    ListenStop,
    StopAck,
    Flush(std::sync::mpsc::Sender<()>),
}

pub(crate) struct Shared {
    tx: SyncSender<Msg>,
    pub dropped: AtomicU64,
    pub next_token: AtomicU64,
    pub listening: AtomicBool,
    pub connected: Arc<AtomicBool>,
    names: Arc<RwLock<Vec<String>>>,
}

impl Shared {
    #[inline]
    pub fn push(&self, msg: Msg) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(msg) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn intern(&self, name: &str) -> u32 {
        if let Some(i) = self.names.read().unwrap_or_else(PoisonError::into_inner).iter().position(|n| n == name) {
            return i as u32;
        }
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = names.iter().position(|n| n == name) {
            return i as u32;
        }
        names.push(name.to_string());
        (names.len() - 1) as u32
    }

    pub fn flush(&self, timeout: Duration) {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(timeout);
        }
    }
}

/// Connects if the environment says so; `None` means "do nothing".
pub(crate) fn connect_from_env(stop: &Stop) -> Option<Arc<Shared>> {
    let path = std::env::var_os(wire::ENV_SOCKET)?;
    let node = std::env::var(wire::ENV_NODE).ok()?;
    let secret = std::env::var(wire::ENV_SECRET).ok()?;
    match handshake(&path, &node, &secret) {
        Ok((stream, reader)) => start(stream, reader, stop.clone()).ok(),
        Err(e) => {
            eprintln!("gracewatch client ({node}): not connected: {e}");
            None
        }
    }
}

fn handshake(path: &std::ffi::OsStr, node: &str, secret: &str) -> std::io::Result<(UnixStream, BufReader<UnixStream>)> {
    let mut stream = UnixStream::connect(path)?;
    let hello = NodeMsg::Hello {
        node: node.to_string(),
        secret: secret.to_string(),
        pid: std::process::id(),
        language: "rust".into(),
        client_version: super::CLIENT_VERSION.into(),
        protocol: wire::PROTOCOL_VERSION,
        listens_stop: false,
    };
    stream.write_all(&wire::encode_line(&hello))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    match serde_json::from_str::<SupervisorMsg>(line.trim_end()) {
        Ok(SupervisorMsg::Welcome { .. }) => {}
        Ok(SupervisorMsg::Refused { reason }) => {
            return Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, format!("refused: {reason}")));
        }
        Ok(other) => return Err(std::io::Error::other(format!("unexpected answer to hello: {other:?}"))),
        Err(e) => return Err(std::io::Error::other(format!("unreadable answer to hello: {e}"))),
    }
    stream.set_read_timeout(None)?;
    reader.get_ref().set_read_timeout(None)?;
    Ok((stream, reader))
}

fn start(stream: UnixStream, reader: BufReader<UnixStream>, stop: Stop) -> std::io::Result<Arc<Shared>> {
    let (tx, rx) = sync_channel::<Msg>(QUEUE_CAPACITY);
    let connected = Arc::new(AtomicBool::new(true));
    let names = Arc::new(RwLock::new(Vec::new()));
    let shared = Arc::new(Shared {
        tx: tx.clone(),
        dropped: AtomicU64::new(0),
        next_token: AtomicU64::new(1),
        listening: AtomicBool::new(false),
        connected: connected.clone(),
        names: names.clone(),
    });
    crate::sys::atfork::set_socket_fd(stream.as_raw_fd());
    let dropped_shared = shared.clone();
    std::thread::Builder::new()
        .name("gw-client-send".into())
        .spawn(move || client_thread(|| sender(stream, &rx, &names, &connected, &dropped_shared.dropped)))?;
    std::thread::Builder::new()
        .name("gw-client-recv".into())
        .spawn(move || client_thread(|| reader_loop(reader, &tx, &stop)))?;
    Ok(shared)
}

/// Runs `body` as one of the client's own threads (not counted against the app's forks).
pub(super) fn client_thread<T>(body: impl FnOnce() -> T) -> T {
    crate::sys::atfork::register_client_thread();
    let out = body();
    crate::sys::atfork::unregister_client_thread();
    out
}

fn encode(msg: Msg, names: &[String], out: &mut Vec<u8>, flushes: &mut Vec<std::sync::mpsc::Sender<()>>) {
    let name = |i: u32| names.get(i as usize).cloned().unwrap_or_default();
    let m = match msg {
        Msg::Issued(id, rs) => {
            let receivers = match rs {
                Receivers::One(a) => vec![name(a)],
                Receivers::Two(a, b) => vec![name(a), name(b)],
                Receivers::Many(m) => m.iter().map(|i| name(*i)).collect(),
            };
            NodeMsg::TokenIssued { id, receivers }
        }
        Msg::Released(id, r) => NodeMsg::TokenReleased { id, receiver: name(r) },
        Msg::Handler { signal, outcome, owner, thread, main_thread, error } => {
            NodeMsg::Handler { signal, outcome, owner, thread, main_thread, error }
        }
        Msg::ListenStop => NodeMsg::ListenStop,
        Msg::StopAck => NodeMsg::StopAck,
        Msg::Flush(done) => {
            flushes.push(done);
            return;
        }
    };
    out.extend_from_slice(&wire::encode_line(&m));
}

fn sender(
    mut stream: UnixStream,
    rx: &Receiver<Msg>,
    names: &RwLock<Vec<String>>,
    connected: &AtomicBool,
    dropped: &AtomicU64,
) {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut reported = 0u64;
    let mut flushes = Vec::new();
    while let Ok(first) = rx.recv() {
        buf.clear();
        {
            let names = names.read().unwrap_or_else(PoisonError::into_inner);
            encode(first, &names, &mut buf, &mut flushes);
            while buf.len() < 60 * 1024 {
                let Ok(m) = rx.try_recv() else { break };
                encode(m, &names, &mut buf, &mut flushes);
            }
        }
        let now_dropped = dropped.load(Ordering::Relaxed);
        if now_dropped > reported {
            buf.extend_from_slice(&wire::encode_line(&NodeMsg::Dropped { count: now_dropped - reported }));
            reported = now_dropped;
        }
        if connected.load(Ordering::Relaxed) && !buf.is_empty() && stream.write_all(&buf).is_err() {
            // Lost: from now on calls are dropped quietly; the node keeps running.
            connected.store(false, Ordering::Relaxed);
        }
        for f in flushes.drain(..) {
            let _ = f.send(());
        }
    }
}

fn reader_loop(mut reader: BufReader<UnixStream>, tx: &SyncSender<Msg>, stop: &Stop) {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if let Ok(SupervisorMsg::Stop { reason, .. }) = serde_json::from_str::<SupervisorMsg>(line.trim_end()) {
            // The ack is queued before the stop fires: the node may flush and exit as soon as it
            // fires (its callbacks run here, its waiters wake at once), and an ack queued after
            // that flush was never sent. Queued first, any flush after the stop sends it.
            let _ = tx.try_send(Msg::StopAck);
            stop.trigger(StopReason::Message(reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A node that flushes and exits from its stop callback (or as soon as its waiter wakes)
    /// must have its ack queued already: it is sent by that flush.
    #[test]
    fn the_ack_is_queued_before_the_stop_fires() {
        let (mut supervisor, node) = UnixStream::pair().unwrap();
        let stop_line =
            wire::encode_line(&SupervisorMsg::Stop { reason: "ctl".into(), signal_in_ms: 2000, kill_in_ms: 10_000 });
        supervisor.write_all(&stop_line).unwrap();
        drop(supervisor);
        let (tx, rx) = sync_channel::<Msg>(16);
        let rx = Arc::new(Mutex::new(rx));
        let queued_when_fired = Arc::new(Mutex::new(None));
        let stop = Stop::default();
        {
            let (rx, seen) = (rx.clone(), queued_when_fired.clone());
            stop.on_stop(move |_| {
                let first = rx.lock().unwrap().try_recv().ok();
                *seen.lock().unwrap() = Some(matches!(first, Some(Msg::StopAck)));
            });
        }
        reader_loop(BufReader::new(node), &tx, &stop);
        assert_eq!(stop.reason(), Some(StopReason::Message("ctl".into())));
        assert_eq!(*queued_when_fired.lock().unwrap(), Some(true), "stop_ack queued before the stop fired");
    }
}
