//! The edges a session starts: its journal, the control and node sockets, the reaper, the
//! spawner, the probe, the guardian and the Python client (an owned session) or the watch of
//! the targets' exits (a watched one); then the nodes.

use super::end::Sweeps;
use super::error::StartError;
use super::{Mode, NodeProc, Session, SessionConfig, SessionHandle, Sockets};
use crate::clock::Clock;
use crate::event::{EventKind, FORMAT_VERSION, Header, Stream};
use crate::journal::JournalWriter;
use crate::probe::{Intensity, Probe, ProbeConfig};
use crate::stop_engine::StopEngine;
use crate::supervisor::guardian::Guardian;
use crate::supervisor::hub::Hub;
use crate::supervisor::input::Input;
use crate::supervisor::node_server::Secrets;
use crate::supervisor::reaper;
use crate::supervisor::registry::Registry;
use crate::supervisor::spawner::Spawner;
use crate::supervisor::{Command, python_client};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::mpsc;

/// Random hex from the kernel.
pub(crate) fn random_hex(bytes: usize) -> String {
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

/// The journal, its first record written, behind the hub that stamps, folds and broadcasts.
fn open_journal(cfg: &SessionConfig, clock: Clock) -> Result<(Hub, PathBuf), StartError> {
    let started_unix_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let (journal, journal_path) = match &cfg.journal {
        Some(path) => (JournalWriter::create(path).map_err(StartError::Journal)?, path.clone()),
        None => {
            JournalWriter::create_numbered(&crate::journal::default_journal_path(&cfg.manifest.name, started_unix_ms))
                .map_err(StartError::Journal)?
        }
    };
    let printer = cfg.print.then(|| {
        crate::supervisor::headless::Printer::new(
            &cfg.manifest.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>(),
        )
    });
    let mut hub = Hub::new(Some(journal), printer);
    hub.push(0, EventKind::SessionStarted(Box::new(header(cfg, started_unix_ms, clock, &journal_path))));
    Ok((hub, journal_path))
}

/// An owned session takes its nodes' orphans and their exit statuses.
fn take_orphans() -> Result<(), StartError> {
    // Orphaned descendants of nodes become our children, so we can reap and sweep them.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(StartError::Subreaper)?;
    // A SIGCHLD ignored by whoever started us is inherited, and then the kernel reaps our
    // children itself: no exit status would ever reach the reaper. A handler (that does
    // nothing) restores reaping; exec gives each node its own default back.
    signal_hook::flag::register(signal_hook::consts::SIGCHLD, Arc::new(AtomicBool::new(false)))
        .map_err(StartError::Sigchld)?;
    Ok(())
}

/// The probe, its events sent to the loop stamped as they are seen.
fn start_probe(cfg: &SessionConfig, clock: Clock, inputs: &mpsc::Sender<Input>) -> Result<Probe, StartError> {
    let probe_tx = inputs.clone();
    Probe::start(
        ProbeConfig { fast_interval_ms: cfg.manifest.probe_interval_ms, ..ProbeConfig::default() },
        Box::new(move |ev| {
            let _ = probe_tx.blocking_send(Input::Event(clock.now(), ev));
        }),
    )
    .map_err(StartError::Probe)
}

/// The node socket, served: its path, each node's secret, and the task that accepts.
fn serve_node_socket(
    cfg: &SessionConfig,
    inputs: &mpsc::Sender<Input>,
) -> Result<(PathBuf, Secrets, tokio::task::JoinHandle<()>), StartError> {
    let path = crate::control::session::node_socket(&cfg.manifest.name);
    let listener = crate::supervisor::node_server::bind(&path)
        .map_err(|source| StartError::NodeSocket { path: path.clone(), source })?;
    let mut secrets = Secrets::default();
    for node in &cfg.manifest.nodes {
        secrets.insert(&node.name, random_hex(16));
    }
    let task = tokio::spawn(crate::supervisor::node_server::serve(
        listener,
        cfg.manifest.name.clone(),
        secrets.clone(),
        inputs.clone(),
    ));
    Ok((path, secrets, task))
}

/// The guardian; without it (said in the journal) the session runs on.
fn start_guardian(run_id: &str, hub: &mut Hub, clock: Clock) -> Option<Guardian> {
    match Guardian::start(run_id) {
        Ok(g) => Some(g),
        Err(e) => {
            let message =
                format!("cannot start the guardian process ({e}): descendants may outlive a killed gracewatch");
            hub.push(clock.now(), EventKind::SupervisorError { context: "guardian".into(), message });
            None
        }
    }
}

/// The Python client, written where the nodes' `PYTHONPATH` will find it; without it (said in
/// the journal) the session runs on.
fn install_python_client(session: &str, hub: &mut Hub, clock: Clock) -> Option<PathBuf> {
    let dir = crate::control::session::python_dir(session);
    match python_client::install(&dir) {
        Ok(()) => Some(dir),
        Err(e) => {
            let message = format!(
                "cannot write the Python client to {} ({e}): `import gracewatch_node` will fail in nodes",
                dir.display()
            );
            hub.push(clock.now(), EventKind::SupervisorError { context: "python client".into(), message });
            None
        }
    }
}

impl Session {
    /// Sets everything up (journal, sockets, guardian, reaper, spawner, probe). Nodes start
    /// when [`Session::run`] does.
    pub(crate) fn start(cfg: SessionConfig) -> Result<(Session, SessionHandle), StartError> {
        let name = cfg.manifest.name.clone();
        crate::control::session::ensure_runtime_dir().map_err(StartError::RuntimeDir)?;
        let control_socket = crate::control::session::control_socket(&name);
        let listener = crate::supervisor::control_server::bind(&control_socket)
            .map_err(|source| StartError::ControlSocket { path: control_socket.clone(), source })?;
        let mut made = MadeAtStart(vec![control_socket.clone()]);

        let clock = Clock::start();
        let (mut hub, journal_path) = open_journal(&cfg, clock)?;
        let mut mode = Mode::for_targets(cfg.targets.clone());
        if mode.owns() {
            take_orphans()?;
        }
        let (inputs_tx, inputs_rx) = mpsc::channel::<Input>(8192);
        let registry = Arc::new(Registry::default());
        let reaped_tx = inputs_tx.clone();
        reaper::start(registry.clone(), clock, move |r| {
            let _ = reaped_tx.blocking_send(Input::Reaped(r));
        })
        .map_err(StartError::Reaper)?;
        let spawner = Spawner::start(registry.clone()).map_err(StartError::Spawner)?;
        let run_id = random_hex(16);
        if let Mode::Owned { guardian, .. } = &mut mode {
            *guardian = start_guardian(&run_id, &mut hub, clock);
        }
        let probe = start_probe(&cfg, clock, &inputs_tx)?;
        match &mut mode {
            Mode::Owned { python_dir, .. } => {
                *python_dir = install_python_client(&name, &mut hub, clock);
                made.0.extend(python_dir.clone());
            }
            Mode::Watched(_) => {
                // A watched process's exit status comes from the kernel connector.
                let exit_tx = inputs_tx.clone();
                probe.on_exit(Box::new(move |e| {
                    let _ = exit_tx.blocking_send(Input::ProcExit(e));
                }));
            }
        }
        let (node_socket, secrets, node_task) = serve_node_socket(&cfg, &inputs_tx)?;
        made.0.push(node_socket.clone());
        let (commands_tx, commands_rx) = mpsc::channel::<Command>(256);
        let (control_open, control_drain) = crate::supervisor::control_server::tracking();
        let control_task = tokio::spawn(crate::supervisor::control_server::serve(
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
        let sockets = Sockets {
            control_task,
            control_drain: Some(control_drain),
            control: control_socket,
            node_task,
            node: node_socket,
            secrets,
        };
        let session = Session {
            cfg,
            clock,
            hub,
            engine: StopEngine::new(),
            mode,
            procs: HashMap::new(),
            registry,
            spawner,
            probe,
            run_id,
            inputs_tx,
            inputs_rx,
            commands_rx,
            sockets,
            conns: HashMap::new(),
            waiters: Vec::new(),
            sweeps: Sweeps::default(),
            open_streams: HashMap::new(),
            held_exits: Vec::new(),
            viewers: 0,
            intensity: Intensity::default(),
            signals_seen: 0,
            end_requested: false,
        };
        // From here on the session removes them at its end.
        made.0.clear();
        Ok((session, handle))
    }

    pub(super) async fn spawn_all(&mut self) {
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
            if let Some(dir) = self.mode.python_dir() {
                python_client::prepend_path(&mut env, dir);
            }
            env.insert(crate::wire::ENV_NODE.into(), name.clone());
            env.insert(crate::wire::ENV_SESSION.into(), self.cfg.manifest.name.clone());
            env.insert(crate::supervisor::survivors::ENV_SESSION_ID.into(), self.run_id.clone());
            env.insert(crate::wire::ENV_SOCKET.into(), self.sockets.node.display().to_string());
            if let Some(secret) = self.sockets.secrets.get(&name) {
                env.insert(crate::wire::ENV_SECRET.into(), secret.to_string());
            }
            match self.spawner.spawn(&name, argv.clone(), cwd, env).await {
                Ok(spawned) => {
                    if let Some(g) = self.mode.guardian_mut() {
                        g.add_group(spawned.pgid);
                    }
                    let clock = self.clock;
                    for (fd, stream) in [(spawned.stdout, Stream::Stdout), (spawned.stderr, Stream::Stderr)] {
                        if let Some(fd) = fd {
                            self.stream_opened(&name);
                            tokio::spawn(crate::supervisor::output::pump(
                                name.clone(),
                                stream,
                                fd,
                                self.inputs_tx.clone(),
                                clock,
                            ));
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
                Err(error) => self.emit(EventKind::SpawnFailed { node: name, error: error.to_string() }),
            }
        }
    }
}
