//! Why a session could not start, or could not run: each is a failure (exit status 1), said
//! with what was being done and the system's own words.

use std::io;
use std::path::PathBuf;

/// A session that could not start: nothing ran, and what it had made is removed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("cannot create the runtime directory: {0}")]
    RuntimeDir(#[source] io::Error),
    #[error("cannot open the control socket {}: {source}", path.display())]
    ControlSocket { path: PathBuf, source: io::Error },
    /// The journal could not be created (the writer's words name the file).
    #[error("{0}")]
    Journal(#[source] io::Error),
    #[error("cannot become a child subreaper: {0}")]
    Subreaper(#[source] rustix::io::Errno),
    #[error("cannot take SIGCHLD back from an inherited ignore: {0}")]
    Sigchld(#[source] io::Error),
    /// The reaper's thread could not be started.
    #[error("{0}")]
    Reaper(#[source] io::Error),
    /// The spawner's thread could not be started.
    #[error("{0}")]
    Spawner(#[source] io::Error),
    /// The probe could not be started.
    #[error("{0}")]
    Probe(#[source] io::Error),
    #[error("cannot open the node socket {}: {source}", path.display())]
    NodeSocket { path: PathBuf, source: io::Error },
}

/// A session that could not run its loop.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// SIGINT, SIGTERM and SIGHUP to gracewatch could not be watched (nothing was started).
    #[error("{0}")]
    Signals(#[source] io::Error),
}

impl StartError {
    /// A failure, not bad input (every kind: the session could not do its work). A method, so
    /// the print site asks every error the same way.
    #[allow(clippy::unused_self)]
    pub(crate) fn exit_code(&self) -> u8 {
        1
    }
}

impl RunError {
    /// A failure, not bad input (every kind: the session could not do its work). A method, so
    /// the print site asks every error the same way.
    #[allow(clippy::unused_self)]
    pub(crate) fn exit_code(&self) -> u8 {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn say_what_was_being_done_then_the_system_s_words() {
        let e = StartError::ControlSocket { path: "/run/gw/robot.sock".into(), source: io::Error::other("in use") };
        assert_eq!(e.to_string(), "cannot open the control socket /run/gw/robot.sock: in use");
        assert_eq!(
            StartError::Journal(io::Error::other("cannot create journal j: denied")).to_string(),
            "cannot create journal j: denied"
        );
        assert_eq!(
            StartError::Subreaper(rustix::io::Errno::PERM).to_string(),
            format!("cannot become a child subreaper: {}", rustix::io::Errno::PERM)
        );
        assert_eq!((e.exit_code(), RunError::Signals(io::Error::other("x")).exit_code()), (1, 1));
    }
}
