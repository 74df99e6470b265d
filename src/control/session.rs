//! Where a session's sockets and files live, and finding running sessions.
//!
//! `$XDG_RUNTIME_DIR/gracewatch/` (else `/tmp/gracewatch-UID/`), mode 0700:
//! `SESSION.sock` (control, 0600), `SESSION.node.sock` (node wire protocol, 0600),
//! `SESSION.py/` (the Python client for managed nodes).

use super::Error;
use std::path::{Path, PathBuf};

/// The directory holding every session's sockets; created 0700 if missing.
pub(crate) fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() && Path::new(&dir).is_dir() => PathBuf::from(dir).join("gracewatch"),
        _ => PathBuf::from(format!("/tmp/gracewatch-{}", rustix::process::getuid().as_raw())),
    }
}

pub(crate) fn ensure_runtime_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let dir = runtime_dir();
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
    let meta = std::fs::metadata(&dir)?;
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

pub(crate) fn control_socket(session: &str) -> PathBuf {
    runtime_dir().join(format!("{session}.sock"))
}

pub(crate) fn node_socket(session: &str) -> PathBuf {
    runtime_dir().join(format!("{session}.node.sock"))
}

pub(crate) fn python_dir(session: &str) -> PathBuf {
    runtime_dir().join(format!("{session}.py"))
}

/// A session found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundSession {
    pub name: String,
    pub socket: PathBuf,
}

/// Sessions with a live control socket (stale sockets are skipped).
pub(crate) fn list_sessions() -> Vec<FoundSession> {
    let Ok(entries) = std::fs::read_dir(runtime_dir()) else {
        return Vec::new();
    };
    let mut found: Vec<FoundSession> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".sock")?.to_string();
            if std::path::Path::new(&name).extension().is_some_and(|x| x.eq_ignore_ascii_case("node")) {
                return None;
            }
            let socket = e.path();
            std::os::unix::net::UnixStream::connect(&socket).ok()?;
            Some(FoundSession { name, socket })
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The session a command talks to: the named one, else the only one running, else the one of
/// the manifest in the current directory. The error lists what is running.
pub(crate) fn resolve(session: Option<&str>) -> Result<FoundSession, Error> {
    if let Some(name) = session {
        let socket = control_socket(name);
        return match std::os::unix::net::UnixStream::connect(&socket) {
            Ok(_) => Ok(FoundSession { name: name.to_string(), socket }),
            Err(source) => {
                Err(Error::NoSuchSession { name: name.to_string(), socket, source, running: list_sessions() })
            }
        };
    }
    let sessions = list_sessions();
    match sessions.len() {
        0 => Err(Error::NoSession),
        1 => Ok(sessions[0].clone()),
        _ => {
            let here = Path::new(crate::manifest::DEFAULT_MANIFEST);
            if here.exists() {
                let name =
                    crate::manifest::load(here).map_or_else(|_| crate::manifest::session_name_for(here), |m| m.name);
                if let Some(s) = sessions.iter().find(|s| s.name == name) {
                    return Ok(s.clone());
                }
            }
            Err(Error::SeveralSessions { running: sessions })
        }
    }
}
