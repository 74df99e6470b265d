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

pub struct SpawnRequest {
    pub node: String,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Added to gracewatch's own environment.
    pub env: BTreeMap<String, String>,
    pub reply: tokio::sync::oneshot::Sender<Result<Spawned, String>>,
}

/// A started node.
pub struct Spawned {
    pub pid: u32,
    pub pgid: u32,
    pub pidfd: OwnedFd,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

#[derive(Clone)]
pub struct Spawner {
    tx: mpsc::Sender<SpawnRequest>,
}

impl Spawner {
    pub fn start(registry: Arc<Registry>) -> std::io::Result<Spawner> {
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

    pub async fn spawn(
        &self,
        node: &str,
        argv: Vec<String>,
        cwd: PathBuf,
        env: BTreeMap<String, String>,
    ) -> Result<Spawned, String> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(SpawnRequest { node: node.to_string(), argv, cwd, env, reply })
            .map_err(|_| "spawner thread is gone".to_string())?;
        rx.await.map_err(|_| "spawner thread is gone".to_string())?
    }
}

fn spawn_one(registry: &Registry, req: &SpawnRequest) -> Result<Spawned, String> {
    let Some((program, args)) = req.argv.split_first() else {
        return Err("empty command".into());
    };
    if !req.cwd.is_dir() {
        return Err(format!("working directory {} does not exist", req.cwd.display()));
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
    let mut child = cmd.spawn().map_err(|e| describe_spawn_error(program, &req.cwd, &e))?;
    let pid = child.id();
    let raw = rustix::process::Pid::from_raw(pid as i32).ok_or("spawned child has pid 0")?;
    let pidfd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty())
        .map_err(|e| format!("pidfd_open({pid}): {e}"))?;
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

fn describe_spawn_error(program: &str, cwd: &std::path::Path, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("command not found: {program} (looked in PATH and relative to {})", cwd.display())
        }
        std::io::ErrorKind::PermissionDenied => format!("permission denied running {program}"),
        _ => format!("cannot run {program}: {e}"),
    }
}
