//! The client library a Rust node uses to talk to gracewatch (`docs/protocol.md`), and the
//! node wire protocol ([`wire`]) and signal names ([`signal`]) it speaks. The crate a node
//! depends on: no async runtime, none of the supervisor's or the cockpit's dependencies. The
//! `gracewatch` crate re-exports it as `gracewatch::node` (and `gracewatch::wire`,
//! `gracewatch::signal`).
//!
//! ```no_run
//! use gracewatch_node::Client;
//! use gracewatch_node::signal::Signal;
//! let gw = Client::from_env(); // does nothing at all outside gracewatch
//! let stop = gw.stop_on_signals(&[Signal::TERM, Signal::INT], "my-app");
//! let detector = gw.receiver("detector");
//! while !stop.is_requested() {
//!     let token = gw.lend(&[detector]); // a buffer lent to `detector`…
//!     gw.returned(token, detector); // …and given back
//!     # break;
//! }
//! ```
//!
//! Calls never block the caller: messages go into a bounded queue drained by a background
//! thread; when it is full a message is dropped and counted, and the count is sent later.

// Every `unsafe` block lives in `sys`, where each says why it is sound; the compiler holds the
// rest of the crate to that.
#![deny(unsafe_code)]

pub mod signal;
#[allow(unsafe_code)]
mod sys;
pub mod wire;

mod connection;
mod stop;

pub use stop::{Stop, StopReason};

use crate::signal::Signal;
use connection::{Msg, Shared};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use sys::atfork;

/// Version reported in `hello`.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A handle on the connection to gracewatch; cheap to clone. A client made outside gracewatch
/// (or whose connection was refused or lost) does nothing.
#[derive(Clone, Default)]
pub struct Client {
    shared: Option<Arc<Shared>>,
    stop: Stop,
}

/// A drop token: the id of a buffer lent to receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub u64);

/// A receiver, interned: lending and returning pass small ids, not strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receiver(u32);

impl Client {
    /// Connects using `GRACEWATCH_SOCKET`, `GRACEWATCH_NODE` and `GRACEWATCH_SECRET`. Without
    /// them, or if the connection is refused, returns a client that does nothing.
    pub fn from_env() -> Client {
        let stop = Stop::default();
        let shared = connection::connect_from_env(&stop);
        Client { shared, stop }
    }

    /// A client that does nothing (what `from_env` returns outside gracewatch).
    pub fn disconnected() -> Client {
        Client::default()
    }

    /// Is this client talking to a supervisor?
    pub fn is_connected(&self) -> bool {
        self.live().is_some_and(|s| s.connected.load(Ordering::Relaxed))
    }

    fn live(&self) -> Option<&Shared> {
        // In a child forked from this process the background threads do not exist.
        if atfork::IN_FORKED_CHILD.load(Ordering::Relaxed) {
            return None;
        }
        self.shared.as_deref()
    }

    /// The interned id of a receiver name.
    pub fn receiver(&self, name: &str) -> Receiver {
        match self.live() {
            Some(s) => Receiver(s.intern(name)),
            None => Receiver(0),
        }
    }

    /// Records a buffer lent to `receivers`; returns its token.
    #[inline]
    pub fn lend(&self, receivers: &[Receiver]) -> Token {
        let Some(s) = self.live() else { return Token(0) };
        let id = s.next_token.fetch_add(1, Ordering::Relaxed);
        let rs = match receivers {
            [a] => connection::Receivers::One(a.0),
            [a, b] => connection::Receivers::Two(a.0, b.0),
            many => connection::Receivers::Many(many.iter().map(|r| r.0).collect()),
        };
        s.push(Msg::Issued(id, rs));
        Token(id)
    }

    /// One receiver gave the buffer back.
    #[inline]
    pub fn returned(&self, token: Token, receiver: Receiver) {
        if let Some(s) = self.live() {
            s.push(Msg::Released(token.0, receiver.0));
        }
    }

    /// The stop handle. Asking for it tells gracewatch this node listens for the cooperative
    /// stop message (sent before any signal).
    pub fn stop(&self) -> Stop {
        if let Some(s) = self.live() {
            if !s.listening.swap(true, Ordering::Relaxed) {
                s.push(Msg::ListenStop);
            }
        }
        self.stop.clone()
    }

    /// Installs handlers (through signal-hook) for `signals` that feed the stop handle, and
    /// reports each claim with `owner` and this thread. The stop fires on whichever comes
    /// first: a signal or the stop message.
    pub fn stop_on_signals(&self, signals: &[Signal], owner: &str) -> Stop {
        let stop = self.stop();
        let numbers: Vec<i32> = signals.iter().map(|s| s.number()).collect();
        match signal_hook::iterator::Signals::new(&numbers) {
            Ok(mut it) => {
                for sig in signals {
                    self.report_claim(*sig, connection::Outcome::Installed, owner, None);
                }
                let stop = stop.clone();
                let spawned = std::thread::Builder::new().name("gw-signals".into()).spawn(move || {
                    connection::client_thread(|| {
                        if let Some(n) = it.forever().next() {
                            let sig = Signal::from_number(n).unwrap_or(Signal::TERM);
                            stop.trigger(StopReason::Signal(sig));
                        }
                    });
                });
                if let Err(e) = spawned {
                    for sig in signals {
                        self.report_claim(*sig, connection::Outcome::Failed, owner, Some(e.to_string()));
                    }
                }
            }
            Err(e) => {
                for sig in signals {
                    self.report_claim(*sig, connection::Outcome::Failed, owner, Some(e.to_string()));
                }
            }
        }
        stop
    }

    /// Installs a handler that sets `flag` (signal-hook's flag handler), reporting the claim.
    pub fn install_flag(
        &self,
        signal: Signal,
        owner: &str,
        flag: Arc<std::sync::atomic::AtomicBool>,
    ) -> std::io::Result<signal_hook::SigId> {
        let result = signal_hook::flag::register(signal.number(), flag);
        match &result {
            Ok(_) => self.report_claim(signal, connection::Outcome::Installed, owner, None),
            Err(e) => self.report_claim(signal, connection::Outcome::Failed, owner, Some(e.to_string())),
        }
        result
    }

    /// Removes a handler installed with [`Client::install_flag`], reporting `restored`.
    pub fn restore(&self, signal: Signal, owner: &str, id: signal_hook::SigId) {
        signal_hook::low_level::unregister(id);
        self.report_claim(signal, connection::Outcome::Restored, owner, None);
    }

    /// Reports a claim made by other means (a framework's own handler installation).
    pub fn report_claim(&self, signal: Signal, outcome: connection::Outcome, owner: &str, error: Option<String>) {
        if let Some(s) = self.live() {
            let thread = std::thread::current();
            let main_thread = rustix::thread::gettid() == rustix::process::getpid();
            let name = thread.name().map_or_else(|| format!("{:?}", thread.id()), str::to_string);
            s.push(Msg::Handler { signal, outcome, owner: owner.to_string(), thread: name, main_thread, error });
        }
    }

    /// Reports forks of this process (from the child, at the fork). With `fail_fast`, a child
    /// forked without exec from a multi-threaded process prints why and exits with status 70.
    pub fn watch_forks(&self, fail_fast: bool) -> std::io::Result<()> {
        atfork::set_fail_fast(fail_fast);
        atfork::install()
    }

    /// Tells gracewatch (in fork reports) whether an async runtime is running in this process.
    pub fn set_runtime_running(&self, running: bool) {
        atfork::set_runtime_running(running);
    }

    /// Messages dropped because the queue was full (sent to gracewatch as `dropped`).
    pub fn dropped(&self) -> u64 {
        self.shared.as_deref().map_or(0, |s| s.dropped.load(Ordering::Relaxed))
    }

    /// Waits (up to `timeout`) until every queued message has been written to the socket.
    pub fn flush(&self, timeout: std::time::Duration) {
        if let Some(s) = self.live() {
            s.flush(timeout);
        }
    }
}

pub use connection::Outcome;
