//! A running session: the loop that owns the hub, the stop engine and the node processes, and
//! turns inputs (reaped children, edge events, commands, timers, signals to gracewatch) into
//! events and actions.
//!
//! - `exits`: a reaped leader's exit is recorded after its last output and messages.
//! - `watch`: `gracewatch watch` sessions (processes taken under watch, not started).
//! - `wire`: node messages on the node socket, validated against the fold.

use super::command::{Command, StopReply};
use super::guardian::Guardian;
use super::hub::Hub;

mod exits;
mod watch;
mod wire;

use super::node_server::{Conn, Secrets, WireInput};
use super::reaper::{self, Reaped};
use super::registry::Registry;
use super::spawner::Spawner;
use crate::clock::Clock;
use crate::control::protocol::StoppedNode;
use crate::event::{
    EventKind, ExitCause, FORMAT_VERSION, Header, Requester, SessionMode, Signal, SignalTarget, StopMode, Stream,
};
use crate::journal::JournalWriter;
use crate::manifest::Manifest;
use crate::probe::{Intensity, Probe, ProbeConfig};
use crate::state::Phase;
use crate::stop_engine::{Effect, Overrides, StopEngine};
use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::{mpsc, oneshot};
pub use watch::Targets;

/// How long survivors of a node's tree get after its main process ended before they are
/// killed (group members stopping in step with their leader finish in this time).
const SURVIVOR_GRACE_NS: u64 = 250_000_000;
/// How long the end of a session waits for its last control answers to be written.
const CONTROL_DRAIN: std::time::Duration = std::time::Duration::from_millis(500);
/// An exit this soon after a signal someone sent by hand (the cockpit's `x`) is put down to
/// that signal ("signalled by the operator (SIGINT)"); later, the node ended on its own. A
/// node that dies *of* that signal is put down to it whenever it dies.
const SIGNALLED_WINDOW_NS: u64 = 30_000_000_000;

/// What a session is asked to do.
pub struct SessionConfig {
    pub manifest: Manifest,
    pub mode: SessionMode,
    /// `None`: the default path.
    pub journal: Option<PathBuf>,
    /// Print every event to stdout (`--headless`).
    pub print: bool,
    /// End the session once every node has exited, however they ended (headless runs).
    pub end_when_all_exited: bool,
    /// Extra environment for every node (the Python client's path, for instance).
    pub extra_env: BTreeMap<String, String>,
    /// `watch`: processes to adopt instead of nodes to start.
    pub targets: Option<Targets>,
}
/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOutcome {
    pub journal: Option<PathBuf>,
    /// Every node ended cleanly (exited 0 or stopped before its deadline).
    pub clean: bool,
    pub summary: Vec<(String, Option<ExitCause>)>,
    /// The journal could not be written to the end (the first write error).
    pub journal_problem: Option<String>,
}

/// The handle others use to reach the session.
#[derive(Clone)]
pub struct SessionHandle {
    pub session: String,
    pub commands: mpsc::Sender<Command>,
    pub journal: Option<PathBuf>,
    pub control_socket: PathBuf,
}

/// Inputs from the edges.
pub enum Input {
    Event(u64, EventKind),
    Reaped(Reaped),
    Wire(WireInput),
    /// A watched process's pidfd says it has exited.
    PidfdExited {
        node: String,
        pid: u32,
        t: u64,
    },
    /// An exit status from the kernel connector.
    ProcExit(crate::probe::ProcExit),
    /// One of a node's output streams reached its end.
    StreamClosed {
        node: String,
    },
    /// A survivor sweep (run off the session loop) is done.
    Swept {
        node: String,
        /// The survivors killed, or why the sweep failed.
        survivors: Result<Vec<crate::event::Survivor>, String>,
    },
}
struct NodeProc {
    pid: u32,
    /// 0 for a watched process (never signalled as a group).
    pgid: u32,
    pidfd: Arc<OwnedFd>,
}
struct Waiter {
    nodes: Vec<String>,
    reply: oneshot::Sender<Vec<StoppedNode>>,
}

pub struct Session {
    cfg: SessionConfig,
    clock: Clock,
    hub: Hub,
    engine: StopEngine,
    procs: HashMap<String, NodeProc>,
    registry: Arc<Registry>,
    spawner: Spawner,
    probe: Probe,
    guardian: Option<Guardian>,
    run_id: String,
    inputs_tx: mpsc::Sender<Input>,
    inputs_rx: mpsc::Receiver<Input>,
    commands_rx: mpsc::Receiver<Command>,
    control_task: tokio::task::JoinHandle<()>,
    /// Taken when the session ends, to wait for the control connections' last answers.
    control_drain: Option<super::control_server::Drain>,
    control_socket: PathBuf,
    node_task: tokio::task::JoinHandle<()>,
    node_socket: PathBuf,
    secrets: Secrets,
    conns: HashMap<u64, Conn>,
    waiters: Vec<Waiter>,
    /// (when, node) survivor sweeps due.
    sweeps: Vec<(u64, String)>,
    /// Sweeps under way on a blocking thread.
    sweeps_running: usize,
    /// Output streams of each node still open.
    open_streams: HashMap<String, u32>,
    /// Reaped leaders whose exits wait for their last output and messages ([`exits`]).
    held_exits: Vec<exits::HeldExit>,
    /// Where the Python client was written for the nodes (on their `PYTHONPATH`).
    python_dir: Option<PathBuf>,
    viewers: usize,
    intensity: Intensity,
    signals_seen: u32,
    end_requested: bool,
    /// Set in `watch` sessions.
    watched: Option<watch::Watched>,
}
/// Random hex from the kernel.
pub fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf)).is_err() {
        // Never expected on Linux; fall back to something unique, if guessable.
        let seed = crate::clock::monotonic_ns() ^ u64::from(std::process::id()) << 32;
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (seed >> ((i % 8) * 8)) as u8 ^ i as u8;
        }
    }
    buf.iter().fold(String::with_capacity(bytes * 2), |mut s, b| {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Sockets and directories a starting session has made, removed if it fails to start (a
/// stale control socket would make `ps` answer "connection refused" instead of "no session").
struct MadeAtStart(Vec<PathBuf>);

impl Drop for MadeAtStart {
    fn drop(&mut self) {
        for path in &self.0 {
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(path);
            } else {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// The session's first record.
fn header(cfg: &SessionConfig, started_unix_ms: u64, clock: Clock, journal: &std::path::Path) -> Header {
    Header {
        format: FORMAT_VERSION,
        format_minor: crate::event::FORMAT_MINOR,
        version: env!("CARGO_PKG_VERSION").to_string(),
        session: cfg.manifest.name.clone(),
        mode: cfg.mode,
        host: host_name(),
        pid: std::process::id(),
        started_unix_ms,
        started: humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(started_unix_ms),
        )
        .to_string(),
        monotonic_ns: clock.start_ns(),
        journal: Some(journal.display().to_string()),
        manifest: cfg.manifest.clone(),
    }
}

fn host_name() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

impl Session {
    /// Sets everything up (journal, sockets, guardian, reaper, spawner, probe). Nodes start
    /// when [`Session::run`] does.
    pub fn start(cfg: SessionConfig) -> anyhow::Result<(Session, SessionHandle)> {
        use anyhow::Context;
        let name = cfg.manifest.name.clone();
        crate::control::session::ensure_runtime_dir().context("cannot create the runtime directory")?;
        let control_socket = crate::control::session::control_socket(&name);
        let listener = super::control_server::bind(&control_socket)
            .with_context(|| format!("cannot open the control socket {}", control_socket.display()))?;
        let mut made = MadeAtStart(vec![control_socket.clone()]);

        let clock = Clock::start();
        let started_unix_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let (journal, journal_path) = match &cfg.journal {
            Some(path) => (JournalWriter::create(path)?, path.clone()),
            None => JournalWriter::create_numbered(&crate::journal::default_journal_path(&name, started_unix_ms))?,
        };
        let printer = cfg.print.then(|| {
            super::headless::Printer::new(&cfg.manifest.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>())
        });
        let mut hub = Hub::new(Some(journal), printer);
        hub.push(0, EventKind::SessionStarted(Box::new(header(&cfg, started_unix_ms, clock, &journal_path))));

        let watching = cfg.targets.is_some();
        if !watching {
            // Orphaned descendants of nodes become our children, so we can reap and sweep them.
            rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
                .context("cannot become a child subreaper")?;
            // A SIGCHLD ignored by whoever started us is inherited, and then the kernel reaps our
            // children itself: no exit status would ever reach the reaper. A handler (that does
            // nothing) restores reaping; exec gives each node its own default back.
            signal_hook::flag::register(signal_hook::consts::SIGCHLD, Arc::new(AtomicBool::new(false)))
                .context("cannot take SIGCHLD back from an inherited ignore")?;
        }
        let (inputs_tx, inputs_rx) = mpsc::channel::<Input>(8192);
        let registry = Arc::new(Registry::default());
        let reaped_tx = inputs_tx.clone();
        reaper::start(registry.clone(), clock, move |r| {
            let _ = reaped_tx.blocking_send(Input::Reaped(r));
        })?;
        let spawner = Spawner::start(registry.clone())?;
        let run_id = random_hex(16);
        let guardian = if watching { Ok(None) } else { Guardian::start(&run_id).map(Some) };
        let guardian = match guardian {
            Ok(g) => g,
            Err(e) => {
                hub.push(
                    clock.now(),
                    EventKind::SupervisorError {
                        context: "guardian".into(),
                        message: format!(
                            "cannot start the guardian process ({e}): descendants may outlive a killed gracewatch"
                        ),
                    },
                );
                None
            }
        };
        let probe_tx = inputs_tx.clone();
        let probe = Probe::start(
            ProbeConfig { fast_interval_ms: cfg.manifest.probe_interval_ms, ..ProbeConfig::default() },
            Box::new(move |ev| {
                let _ = probe_tx.blocking_send(Input::Event(clock.now(), ev));
            }),
        )?;

        let python_dir = if watching {
            None
        } else {
            let dir = crate::control::session::python_dir(&name);
            match super::python_client::install(&dir) {
                Ok(()) => {
                    made.0.push(dir.clone());
                    Some(dir)
                }
                Err(e) => {
                    let message = format!(
                        "cannot write the Python client to {} ({e}): `import gracewatch_node` will fail in nodes",
                        dir.display()
                    );
                    hub.push(clock.now(), EventKind::SupervisorError { context: "python client".into(), message });
                    None
                }
            }
        };
        let node_socket = crate::control::session::node_socket(&name);
        let node_listener = super::node_server::bind(&node_socket)
            .with_context(|| format!("cannot open the node socket {}", node_socket.display()))?;
        made.0.push(node_socket.clone());
        let mut secrets = Secrets::default();
        for node in &cfg.manifest.nodes {
            secrets.insert(&node.name, random_hex(16));
        }
        let node_task =
            tokio::spawn(super::node_server::serve(node_listener, name.clone(), secrets.clone(), inputs_tx.clone()));

        if watching {
            let exit_tx = inputs_tx.clone();
            probe.on_exit(Box::new(move |e| {
                let _ = exit_tx.blocking_send(Input::ProcExit(e));
            }));
        }

        let (commands_tx, commands_rx) = mpsc::channel::<Command>(256);
        let (control_open, control_drain) = super::control_server::tracking();
        let control_task = tokio::spawn(super::control_server::serve(
            listener,
            control_socket.clone(),
            commands_tx.clone(),
            control_open,
        ));
        let handle = SessionHandle {
            session: name,
            commands: commands_tx,
            journal: Some(journal_path),
            control_socket: control_socket.clone(),
        };
        let session = Session {
            cfg,
            clock,
            hub,
            engine: StopEngine::new(),
            procs: HashMap::new(),
            registry,
            spawner,
            probe,
            guardian,
            run_id,
            python_dir,
            inputs_tx,
            inputs_rx,
            commands_rx,
            control_task,
            control_drain: Some(control_drain),
            control_socket,
            node_task,
            node_socket,
            secrets,
            conns: HashMap::new(),
            waiters: Vec::new(),
            sweeps: Vec::new(),
            sweeps_running: 0,
            open_streams: HashMap::new(),
            held_exits: Vec::new(),
            viewers: 0,
            intensity: Intensity::default(),
            signals_seen: 0,
            end_requested: false,
            watched: None,
        };
        // From here on the session removes them at its end.
        made.0.clear();
        Ok((session, handle))
    }

    /// Starts the nodes and runs until the session ends.
    pub async fn run(mut self) -> anyhow::Result<SessionOutcome> {
        let mut signals = signal_hook_tokio::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ])?;
        if self.cfg.targets.is_some() {
            self.adopt_targets();
        } else {
            self.spawn_all().await;
        }
        use futures_util::StreamExt;
        loop {
            if self.should_end() {
                break;
            }
            let wake = self.next_wake().map(|t| tokio::time::Instant::from_std(self.clock.instant_at(t)));
            tokio::select! {
                biased;
                Some(input) = self.inputs_rx.recv() => self.on_input(input),
                Some(sig) = signals.next() => self.on_signal(sig),
                Some(cmd) = self.commands_rx.recv() => self.on_command(cmd),
                () = async { if let Some(w) = wake { tokio::time::sleep_until(w).await } else { std::future::pending().await } } => self.on_timer(),
            }
            self.update_intensity();
            if let Some(message) = self.hub.take_journal_failure() {
                self.emit(EventKind::SupervisorError { context: "journal".into(), message });
            }
        }
        signals.handle().close();
        let drain = self.control_drain.take();
        let outcome = self.finish();
        // The answers finish() gave (`stop --wait`, attached cockpits told the session ended)
        // are written by the connection tasks: let them go out before the runtime is dropped.
        if let Some(drain) = drain {
            drain.wait(CONTROL_DRAIN).await;
        }
        Ok(outcome)
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn emit(&mut self, ev: EventKind) {
        let now = self.now();
        self.hub.push(now, ev);
    }

    async fn spawn_all(&mut self) {
        let base_dir = self
            .cfg
            .manifest
            .path
            .as_ref()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let exe = std::env::current_exe().map_or_else(|_| "gracewatch".into(), |p| p.display().to_string());
        for name in crate::manifest::order::start_order(&self.cfg.manifest.nodes) {
            let Some(spec) = self.cfg.manifest.node(&name).cloned() else {
                continue;
            };
            let argv: Vec<String> = spec.cmd.iter().map(|a| a.replace("{gracewatch}", &exe)).collect();
            let cwd = spec.cwd.as_ref().map_or_else(|| base_dir.clone(), |c| base_dir.join(c));
            let mut env = self.cfg.extra_env.clone();
            env.extend(spec.env.clone());
            if let Some(dir) = &self.python_dir {
                super::python_client::prepend_path(&mut env, dir);
            }
            env.insert(crate::wire::ENV_NODE.into(), name.clone());
            env.insert(crate::wire::ENV_SESSION.into(), self.cfg.manifest.name.clone());
            env.insert(super::survivors::ENV_SESSION_ID.into(), self.run_id.clone());
            env.insert(crate::wire::ENV_SOCKET.into(), self.node_socket.display().to_string());
            if let Some(secret) = self.secrets.get(&name) {
                env.insert(crate::wire::ENV_SECRET.into(), secret.to_string());
            }
            match self.spawner.spawn(&name, argv.clone(), cwd, env).await {
                Ok(spawned) => {
                    if let Some(g) = &mut self.guardian {
                        g.add_group(spawned.pgid);
                    }
                    let clock = self.clock;
                    for (fd, stream) in [(spawned.stdout, Stream::Stdout), (spawned.stderr, Stream::Stderr)] {
                        if let Some(fd) = fd {
                            self.stream_opened(&name);
                            tokio::spawn(super::output::pump(name.clone(), stream, fd, self.inputs_tx.clone(), clock));
                        }
                    }
                    self.emit(EventKind::NodeSpawned {
                        node: name.clone(),
                        pid: spawned.pid,
                        pgid: spawned.pgid,
                        argv,
                    });
                    self.probe.watch(&name, spawned.pid);
                    let pidfd = Arc::new(spawned.pidfd);
                    self.procs.insert(name, NodeProc { pid: spawned.pid, pgid: spawned.pgid, pidfd });
                }
                Err(error) => self.emit(EventKind::SpawnFailed { node: name, error }),
            }
        }
    }

    fn next_wake(&self) -> Option<u64> {
        let sweep = self
            .sweeps
            .iter()
            .map(|(t, _)| *t)
            .chain(self.watched.as_ref().and_then(watch::Watched::next_wake))
            .chain(self.next_held_exit())
            .min();
        match (self.engine.next_deadline(), sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn should_end(&self) -> bool {
        if !self.sweeps.is_empty() || self.sweeps_running > 0 || !self.held_exits.is_empty() {
            return false;
        }
        let all_exited = self.hub.state.nodes.values().all(|n| n.phase == Phase::Exited);
        if self.watched.is_some() {
            // A watch never waits for the processes it watches.
            return self.end_requested;
        }
        (self.end_requested && all_exited)
            || self.engine.all_done(&self.hub.state)
            || (self.cfg.end_when_all_exited && all_exited)
    }

    fn on_input(&mut self, input: Input) {
        match input {
            Input::Event(t, ev) => {
                self.hub.push(t, ev);
            }
            Input::Reaped(r) => self.on_leader_reaped(r),
            Input::StreamClosed { node } => self.stream_closed(&node),
            Input::Wire(w) => self.on_wire(w),
            Input::PidfdExited { node, pid, t } => self.on_pidfd_exit(node, pid, t),
            Input::ProcExit(e) => self.on_proc_exit(e),
            Input::Swept { node, survivors } => {
                self.sweeps_running = self.sweeps_running.saturating_sub(1);
                match survivors {
                    Ok(survivors) if survivors.is_empty() => {}
                    Ok(survivors) => self.emit(EventKind::Survivors { node, survivors }),
                    Err(message) => self.emit(EventKind::SupervisorError { context: node, message }),
                }
            }
        }
    }

    /// A node's leader was reaped: its cause is decided now, at the instant it ended (the stop
    /// engine forgets it, so no later stage is entered for it, and nothing is signalled); the
    /// exit is recorded by [`Session::record_exit`], at once or once it has said all
    /// ([`exits`]).
    fn exit_cause(&mut self, r: &Reaped, node: &str) -> ExitCause {
        let sent = self.signalled_by_hand(node, r.t, r.signal);
        self.procs.remove(node);
        self.engine.on_exit(node, r.code, r.signal, sent)
    }

    fn record_exit(&mut self, r: &Reaped, node: String, cause: ExitCause) {
        // A stop requested while the exit was held (the state still said running) ends here.
        let _ = self.engine.on_exit(&node, r.code, r.signal, None);
        let pending_tokens = self
            .hub
            .state
            .node(&node)
            .map(|n| if n.tokens.pending() > 0 { n.tokens.pending_tokens(r.t, 1000) } else { Vec::new() })
            .unwrap_or_default();
        self.hub.push(
            r.t,
            EventKind::NodeExited {
                node: node.clone(),
                pid: r.pid,
                code: r.code,
                signal: r.signal,
                cause,
                pending_tokens,
            },
        );
        self.probe.unwatch(&node);
        self.sweeps.push((r.t + SURVIVOR_GRACE_NS, node));
        let now = self.now();
        let effects = self.engine.tick(&self.hub.state, now);
        self.execute(effects);
        self.answer_waiters();
    }

    /// The signal sent to `node` by hand (not by a stop plan) that its exit at `t` is put down
    /// to, if any: the one it died of, or one it handled by exiting (with a status, or with no
    /// status known) shortly after. A death by another signal is not the sender's: a node sent
    /// SIGHUP to reload that dies of SIGSEGV later crashed.
    pub(super) fn signalled_by_hand(&self, node: &str, t: u64, died_of: Option<Signal>) -> Option<(Signal, Requester)> {
        let sent = self.hub.state.node(node)?.signalled?;
        let credited = match died_of {
            Some(signal) => signal == sent.signal,
            None => t.saturating_sub(sent.t) <= SIGNALLED_WINDOW_NS,
        };
        credited.then_some((sent.signal, sent.by))
    }

    fn on_timer(&mut self) {
        let now = self.now();
        self.release_overdue_exits(now);
        self.on_watch_timer(now);
        let effects = self.engine.tick(&self.hub.state, now);
        self.execute(effects);
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.sweeps).into_iter().partition(|(t, _)| *t <= now);
        self.sweeps = later;
        for (_, node) in due {
            // Off the loop: a sweep reads /proc and waits for what it killed to die, and the
            // loop must keep every other node's deadlines meanwhile.
            let known = self.probe.known(&node);
            let spare = self.spared_children();
            let run_id = self.run_id.clone();
            let tx = self.inputs_tx.clone();
            self.sweeps_running += 1;
            tokio::task::spawn_blocking(move || {
                // Whatever happens in it, the sweep reports back: the session waits for it.
                let swept = super::survivors::guarded(|| super::survivors::sweep(&node, &run_id, &known, &spare));
                let _ = tx.blocking_send(Input::Swept { node, survivors: swept });
            });
        }
    }

    fn on_signal(&mut self, sig: i32) {
        self.signals_seen += 1;
        if self.watched.is_some() {
            // Watching is not owning: a signal to gracewatch ends the watch, nothing else.
            self.end_requested = true;
            return;
        }
        let name = Signal::from_number(sig).map_or_else(|| sig.to_string(), Signal::name);
        let force = self.signals_seen > 1;
        tracing::info!("{name} received: {}", if force { "forcing" } else { "stopping everything" });
        let now = self.now();
        let effects = self.engine.request_all(&self.hub.state, force, Requester::Signal, Overrides::default(), now);
        self.execute(effects);
        self.end_requested = true;
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Ps(reply) => {
                let _ = reply.send(crate::state::PsSnapshot::from_state(&self.hub.state, self.now()));
            }
            Command::Subscribe(reply) => {
                let _ = reply.send(self.hub.subscribe());
            }
            Command::Viewers(delta) => {
                self.viewers = self.viewers.saturating_add_signed(delta as isize);
            }
            Command::End => {
                self.end_requested = true;
                if self.watched.is_none() && self.hub.state.nodes.values().any(|n| n.phase != Phase::Exited) {
                    let now = self.now();
                    let effects = self.engine.request_all(
                        &self.hub.state,
                        true,
                        Requester::Supervisor,
                        Overrides::default(),
                        now,
                    );
                    self.execute(effects);
                }
            }
            Command::Signal { node, signal, by, reply } => {
                let group = self.hub.state.node(&node).is_some_and(|n| n.spec.group);
                let result = if self.procs.contains_key(&node) {
                    self.signal_node(&node, signal, group, by);
                    self.probe.sample_now(&node);
                    Ok(())
                } else if self.hub.state.node(&node).is_some() {
                    Err(format!("{node} is not running"))
                } else {
                    Err(format!("no node named {node:?}"))
                };
                let _ = reply.send(result);
            }
            Command::Stop { nodes, all, force, overrides, by, reply, wait } => {
                let (answer, effects) = self.stop_command(&nodes, all, force, overrides, by);
                self.execute(effects);
                let accepted: Vec<String> = answer.accepted.iter().map(|(n, _)| n.clone()).collect();
                if accepted.is_empty() && answer.exited.is_empty() && answer.unknown.is_empty() {
                    let _ = reply.send(Err(answer.refused.join("; ")));
                    return;
                }
                let _ = reply.send(Ok(answer));
                if let Some(reply) = wait {
                    // Nothing accepted: the wait is over at once.
                    self.waiters.push(Waiter { nodes: accepted, reply });
                    self.answer_waiters();
                }
            }
        }
    }

    /// Takes a stop request: which nodes' stops start (and the effects that start them), which
    /// had already ended, which were refused. A name the session does not have stops nothing.
    fn stop_command(
        &mut self,
        nodes: &[String],
        all: bool,
        force: bool,
        overrides: Overrides,
        by: Requester,
    ) -> (StopReply, Vec<Effect>) {
        let now = self.now();
        let mode = if force { StopMode::Force } else { StopMode::Graceful };
        let mut answer = StopReply::default();
        let mut effects = Vec::new();
        let state = &self.hub.state;
        let exited_line = |n: &crate::state::NodeState| {
            let how = n.exit.as_ref().map_or_else(
                || "it ended".to_string(),
                |e| {
                    e.cause.with_status(&if e.cause == ExitCause::SpawnFailed {
                        "never started".into()
                    } else {
                        e.status()
                    })
                },
            );
            format!("{} already exited ({how})", n.name)
        };
        if all {
            let alive = state.alive_nodes();
            if alive.is_empty() {
                answer.exited.push("every node has already exited".to_string());
                return (answer, effects);
            }
            effects = self.engine.request_all(state, force, by, overrides, now);
            let mut plans: BTreeMap<&str, String> = BTreeMap::new();
            for e in &effects {
                match e {
                    Effect::Emit(EventKind::StopRequested { node, plan, .. }) => {
                        plans.insert(node.as_str(), plan.describe());
                    }
                    Effect::Emit(EventKind::StopAllRequested { waits, .. }) => {
                        for (node, after) in waits {
                            plans.insert(node.as_str(), format!("once {} ended", after.join(", ")));
                        }
                    }
                    _ => {}
                }
            }
            answer.accepted = alive
                .iter()
                .map(|n| {
                    let plan = plans.get(n.as_str()).cloned();
                    (n.clone(), plan.unwrap_or_else(|| "after the nodes that depend on it".to_string()))
                })
                .collect();
            return (answer, effects);
        }
        answer.unknown = nodes.iter().filter(|n| state.node(n).is_none()).cloned().collect();
        if !answer.unknown.is_empty() {
            answer.known = state.nodes.keys().cloned().collect();
            return (answer, effects);
        }
        for node in nodes {
            let Some(n) = state.node(node) else { continue };
            if n.phase == Phase::Exited {
                answer.exited.push(exited_line(n));
                continue;
            }
            // Watching: say at once when the kernel would refuse our signals.
            let pid = Some(n).filter(|n| n.adopted && n.exit.is_none()).and_then(|n| n.pid);
            if let Some(pid) = pid.filter(|p| !super::permission::may_signal(*p)) {
                answer.refused.push(format!("cannot stop {node}: {}", super::permission::permission_refused(pid)));
                continue;
            }
            match self.engine.request(state, node, mode, by, overrides, now) {
                Ok(more) => {
                    let plan = more.iter().find_map(|e| match e {
                        Effect::Emit(EventKind::StopRequested { plan, .. }) => Some(plan.describe()),
                        _ => None,
                    });
                    effects.extend(more);
                    answer.accepted.push((node.clone(), plan.unwrap_or_default()));
                }
                Err(e) => answer.refused.push(e.to_string()),
            }
        }
        (answer, effects)
    }

    /// Executes the stop engine's effects in order; then the probe reads each node signalled
    /// (once all of its signals are sent: a SIGCONT follows each stop signal).
    fn execute(&mut self, effects: Vec<Effect>) {
        let mut signalled: Vec<String> = Vec::new();
        for effect in effects {
            match effect {
                Effect::Emit(ev) => self.emit(ev),
                Effect::Signal { node, signal, group } => {
                    self.signal_node(&node, signal, group, Requester::Plan);
                    if !signalled.contains(&node) {
                        signalled.push(node);
                    }
                }
                Effect::SendStopMessage { node, signal_in_ms, kill_in_ms } => {
                    self.send_stop_message(&node, signal_in_ms, kill_in_ms);
                }
            }
        }
        for node in signalled {
            self.probe.sample_now(&node);
        }
    }

    /// Signals a node: its process group (only while the leader is provably unreaped, so the
    /// group id cannot have been recycled) or its process through its pidfd.
    fn signal_node(&mut self, node: &str, signal: Signal, group: bool, by: Requester) {
        let Some(p) = self.procs.get(node) else {
            return;
        };
        let (pid, pgid) = (p.pid, p.pgid);
        let Some(sig) = rustix::process::Signal::from_named_raw(signal.number()) else {
            self.emit(EventKind::SupervisorError {
                context: node.to_string(),
                message: format!("{signal} cannot be sent"),
            });
            return;
        };
        let (target, result) = if group {
            let inner = self.registry.lock();
            let result = if inner.is_unreaped_leader(pid) {
                rustix::process::Pid::from_raw(pgid as i32)
                    .map_or(Err(rustix::io::Errno::SRCH), |pg| rustix::process::kill_process_group(pg, sig))
            } else {
                Err(rustix::io::Errno::SRCH)
            };
            drop(inner);
            (SignalTarget::Group, result)
        } else {
            (SignalTarget::Process, rustix::process::pidfd_send_signal(&p.pidfd, sig))
        };
        let error = result.err().map(|e| match e {
            rustix::io::Errno::SRCH => "no such process (already gone)".to_string(),
            rustix::io::Errno::PERM => super::permission::permission_refused(pid),
            e => e.to_string(),
        });
        self.emit(EventKind::SignalSent { node: node.to_string(), pid, target, signal, error, by: Some(by) });
    }

    fn answer_waiters(&mut self) {
        let state = &self.hub.state;
        let (done, pending): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|w| w.nodes.iter().all(|n| state.node(n).is_none_or(|n| n.phase == Phase::Exited)));
        self.waiters = pending;
        self.answer(done);
    }

    /// The session is ending: every waiter gets its answer now.
    fn answer_waiters_finally(&mut self) {
        let all = std::mem::take(&mut self.waiters);
        self.answer(all);
    }

    fn answer(&self, waiters: Vec<Waiter>) {
        let state = &self.hub.state;
        for w in waiters {
            let nodes = w
                .nodes
                .iter()
                .filter_map(|n| state.node(n))
                .map(|n| StoppedNode {
                    node: n.name.clone(),
                    cause: n.exit.as_ref().map(|e| e.cause),
                    status: n.exit.as_ref().map_or_else(|| "-".into(), crate::state::ExitRecord::status),
                    took_ms: n
                        .stop
                        .as_ref()
                        .zip(n.exit.as_ref())
                        .map(|(s, e)| e.t.saturating_sub(s.requested_at) / 1_000_000),
                })
                .collect();
            let _ = w.reply.send(nodes);
        }
    }

    /// Our children that are not leftovers: live node leaders and the guardian.
    fn spared_children(&self) -> Vec<u32> {
        let mut spare = self.registry.lock().leader_pids();
        spare.extend(self.guardian.as_ref().map(Guardian::pid));
        spare
    }

    fn update_intensity(&mut self) {
        let next = Intensity { viewers: self.viewers, stopping: self.engine.stopping() };
        if next != self.intensity {
            self.intensity = next;
            self.probe.set_intensity(next);
        }
    }

    /// Sweeps what is left, records the end, says bye to the guardian, closes the journal.
    fn finish(mut self) -> SessionOutcome {
        let spare = self.spared_children();
        // The session's end is recorded whatever the last sweep does.
        let left = super::survivors::guarded(|| super::survivors::sweep_all(&spare)).unwrap_or_else(|message| {
            self.emit(EventKind::SupervisorError { context: "survivors".into(), message });
            Vec::new()
        });
        let mut by_node: BTreeMap<String, Vec<crate::event::Survivor>> = BTreeMap::new();
        let mut strays = Vec::new();
        for (node, s) in left {
            match node.filter(|n| self.hub.state.node(n).is_some()) {
                Some(n) => by_node.entry(n).or_default().push(s),
                None => strays.push(format!("{} ({})", s.pid, s.name)),
            }
        }
        for (node, survivors) in by_node {
            self.emit(EventKind::Survivors { node, survivors });
        }
        if !strays.is_empty() {
            let message = format!("killed {} leftover processes no node claimed: {}", strays.len(), strays.join(", "));
            self.emit(EventKind::SupervisorError { context: "survivors".into(), message });
        }
        let reason = if self.signals_seen > 0 {
            "stopped by a signal to gracewatch"
        } else if self.end_requested {
            "stopped"
        } else {
            "every node exited"
        };
        self.emit(EventKind::SessionEnded { reason: reason.into() });
        // Whoever still waits for a stop hears how it ended, whether or not every node did.
        self.answer_waiters_finally();
        if let Some(g) = &mut self.guardian {
            g.bye();
        }
        self.control_task.abort();
        self.node_task.abort();
        let _ = std::fs::remove_file(&self.control_socket);
        let _ = std::fs::remove_file(&self.node_socket);
        if let Some(dir) = &self.python_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        let summary: Vec<(String, Option<ExitCause>)> =
            self.hub.state.nodes.values().map(|n| (n.name.clone(), n.exit.as_ref().map(|e| e.cause))).collect();
        let clean = summary.iter().all(|(_, c)| c.is_some_and(ExitCause::is_clean));
        let journal = self.hub.journal_path().map(PathBuf::from);
        let journal_problem = self.hub.close_journal();
        SessionOutcome { journal, clean, summary, journal_problem }
    }
}
