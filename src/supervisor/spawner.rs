//! The spawner thread: the one long-lived thread every node is forked from.
//!
//! A node's parent-death signal fires when the *thread* that forked it exits, so all nodes are
//! spawned here and this thread never exits while gracewatch lives: if gracewatch is killed,
//! even by SIGKILL, every node gets SIGKILL.

use super::registry::Registry;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;

pub(crate) struct SpawnRequest {
    pub node: String,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Added to gracewatch's own environment.
    pub env: BTreeMap<String, String>,
    pub reply: tokio::sync::oneshot::Sender<Result<Spawned, SpawnError>>,
}

/// A started node.
pub(crate) struct Spawned {
    pub pid: u32,
    pub pgid: u32,
    pub pidfd: OwnedFd,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

#[derive(Clone)]
pub(crate) struct Spawner {
    tx: mpsc::Sender<SpawnRequest>,
}

impl Spawner {
    pub(crate) fn start(registry: Arc<Registry>) -> std::io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new().name("gw-spawner".into()).spawn(move || {
            while let Ok(req) = rx.recv() {
                let result = spawn_one(&registry, &req);
                registry.notify_spawned();
                let _ = req.reply.send(result);
            }
            // Never return: our children's parent-death signal is tied to this thread.
            loop {
                std::thread::park();
            }
        })?;
        Ok(Spawner { tx })
    }

    pub(crate) async fn spawn(
        &self,
        node: &str,
        argv: Vec<String>,
        cwd: PathBuf,
        env: BTreeMap<String, String>,
    ) -> Result<Spawned, SpawnError> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(SpawnRequest { node: node.to_string(), argv, cwd, env, reply })
            .map_err(|_| SpawnError::SpawnerGone)?;
        rx.await.map_err(|_| SpawnError::SpawnerGone)?
    }
}

fn spawn_one(registry: &Registry, req: &SpawnRequest) -> Result<Spawned, SpawnError> {
    let Some((program, args)) = req.argv.split_first() else {
        return Err(SpawnError::EmptyCommand);
    };
    if !req.cwd.is_dir() {
        return Err(SpawnError::NoWorkingDir(req.cwd.clone()));
    }
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(&req.cwd)
        .envs(&req.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    crate::sys::child_setup::die_with_parent(&mut cmd);

    // Hold the registry lock from fork to pidfd: the reaper cannot reap (and the kernel cannot
    // recycle) the pid before we hold a pidfd for it.
    let mut inner = registry.lock();
    let mut child = cmd.spawn().map_err(|error| SpawnError::Exec {
        program: program.clone(),
        cwd: req.cwd.clone(),
        kind: error.kind(),
        error: error.to_string(),
    })?;
    let pid = child.id();
    let raw = rustix::process::Pid::from_raw(pid as i32).ok_or(SpawnError::PidZero)?;
    let pidfd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())
        .map_err(|e| SpawnError::Pidfd { pid, error: e })?;
    inner.add_leader(pid, &req.node);
    drop(inner);

    Ok(Spawned {
        pid,
        pgid: pid,
        pidfd,
        stdout: child.stdout.take().map(OwnedFd::from),
        stderr: child.stderr.take().map(OwnedFd::from),
    })
}

/// Why a node could not be started (the `SpawnFailed` event says it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpawnError {
    EmptyCommand,
    NoWorkingDir(PathBuf),
    /// The program could not be run.
    Exec {
        program: String,
        cwd: PathBuf,
        kind: std::io::ErrorKind,
        error: String,
    },
    PidZero,
    Pidfd {
        pid: u32,
        error: rustix::io::Errno,
    },
    /// The spawner thread ended (never expected while gracewatch lives).
    SpawnerGone,
}

impl SpawnError {
    /// A command that cannot run is bad input (2); the rest are failures (1).
    #[allow(dead_code)] // to be read by the one print site (the errors part of issue 11)
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            SpawnError::EmptyCommand
            | SpawnError::NoWorkingDir(_)
            | SpawnError::Exec { kind: std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied, .. } => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::EmptyCommand => f.write_str("empty command"),
            SpawnError::NoWorkingDir(cwd) => write!(f, "working directory {} does not exist", cwd.display()),
            SpawnError::Exec { program, cwd, kind, error } => match kind {
                std::io::ErrorKind::NotFound => {
                    write!(f, "command not found: {program} (looked in PATH and relative to {})", cwd.display())
                }
                std::io::ErrorKind::PermissionDenied => write!(f, "permission denied running {program}"),
                _ => write!(f, "cannot run {program}: {error}"),
            },
            SpawnError::PidZero => f.write_str("spawned child has pid 0"),
            SpawnError::Pidfd { pid, error } => write!(f, "pidfd_open({pid}): {error}"),
            SpawnError::SpawnerGone => f.write_str("spawner thread is gone"),
        }
    }
}

impl std::error::Error for SpawnError {}
