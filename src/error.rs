//! The one error of gracewatch's commands, carried up to the single place that prints it
//! (`cli::main`), which exits with its [`Error::exit_code`] (as `just` and nextest do).
//!
//! Each module that can fail has its own error type that says what went wrong; here each
//! plugs in as one variant (`#[from]`), which also decides its exit status:
//! - 2, bad input: the command line, a manifest, a journal that cannot be read;
//! - 1, the operation failed;
//! - 0, quietly: standard output was closed by its reader (`| head`), which had what it
//!   wanted.

use crate::control;
use crate::journal::JournalError;
use crate::manifest::{ManifestError, ManifestErrors};
use crate::supervisor::command::CommandError;
use crate::supervisor::session::{RunError, StartError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A command line that does not say something that can be done.
    #[error("{0}")]
    Usage(String),
    /// A manifest that cannot be run (`up`).
    #[error(transparent)]
    Manifest(#[from] ManifestErrors),
    /// `replay --speed` that is not a factor above 0.
    #[error(transparent)]
    ReplaySpeed(#[from] crate::replay::clock::BadSpeed),
    /// A journal that cannot be read; when the file is not there, where journals are kept
    /// (see [`Error::journal`]).
    #[error("{source}{}", journals_hint(journals.as_deref()))]
    Journal { source: JournalError, journals: Option<PathBuf> },
    /// `stop` with neither nodes nor `--all`.
    #[error("name the nodes to stop (gracewatch stop NODE...), or use --all to stop every node")]
    NothingToStop,
    /// `watch` needs exactly one way to choose its processes.
    #[error("say what to watch: --pid PID... , --name PATTERN or --children-of PID (one of them)")]
    WatchWhat,
    /// `watch --pid`/`--children-of` of a process that does not exist.
    #[error("no process {0}")]
    NoProcess(u32),
    /// `stop` named nodes the session does not have (nothing was stopped).
    #[error(
        "{} {} in session {session:?} ({}); nothing was stopped",
        if unknown.len() == 1 { "no node named" } else { "no nodes named" },
        quoted(unknown),
        if known.is_empty() { "it has none".to_string() } else { format!("its nodes: {}", known.join(", ")) }
    )]
    UnknownNodes { session: String, unknown: Vec<String>, known: Vec<String> },
    /// A demo node that cannot run (`gracewatch demo-node NAME`).
    #[error(transparent)]
    DemoNode(#[from] crate::demo::rust_nodes::Error),
    /// Talking to a running session (`ps`, `stop`, `attach`).
    #[error(transparent)]
    Control(#[from] control::Error),
    /// `stop --wait` lost the session before the stop had ended.
    #[error("the session ended before the stop did: {0}")]
    StopUnfinished(#[source] control::Error),
    #[error("cannot unpack the demo into {}: {source}", dir.display())]
    DemoUnpack { dir: PathBuf, source: std::io::Error },
    /// The demo's own manifest does not load: a bug, not the user's input.
    #[error(transparent)]
    DemoManifest(ManifestError),
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The session's task panicked or was cancelled.
    #[error("the session failed: {0}")]
    SessionTask(#[source] tokio::task::JoinError),
    #[error("the watch ended before its first snapshot")]
    WatchEndedEarly,
    /// What is printed with `--json` could not be made into JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Standard output was closed by its reader: stop, say nothing, exit status 0.
    #[error("standard output was closed")]
    StdoutClosed,
    #[error("cannot write to standard output: {0}")]
    Stdout(#[source] std::io::Error),
    /// A session that could not start (`up`, `demo`, `watch`).
    #[error(transparent)]
    SessionStart(#[from] StartError),
    /// A session that could not run its loop.
    #[error(transparent)]
    SessionRun(#[from] RunError),
    /// The cockpit could not link to its own session (it had ended).
    #[error(transparent)]
    Link(#[from] CommandError),
    /// The cockpit (live or replay) ended on an error of the terminal's.
    #[cfg(feature = "tui")]
    #[error(transparent)]
    Cockpit(#[from] crate::tui::Error),
    // The journal's and the replay's own error types plug in here as `#[from]` variants
    // (today: `Journal` above, and the replay speed said as `Usage`).
}

impl Error {
    /// The journal at `path` cannot be read: the reader's error and, when the file is not there,
    /// where sessions keep their journals.
    pub(crate) fn journal(path: &Path, source: JournalError) -> Error {
        Error::Journal { source, journals: (!path.exists()).then(crate::journal::journals_dir) }
    }

    /// The exit status this error ends gracewatch with.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::StdoutClosed => 0,
            Error::Usage(_)
            | Error::Manifest(_)
            | Error::Journal { .. }
            | Error::NothingToStop
            | Error::WatchWhat
            | Error::NoProcess(_)
            | Error::UnknownNodes { .. }
            | Error::DemoNode(_)
            | Error::Control(control::Error::Incompatible(_)) => 2,
            Error::ReplaySpeed(e) => e.exit_code(),
            Error::SessionStart(e) => e.exit_code(),
            Error::SessionRun(e) => e.exit_code(),
            Error::Link(e) => e.exit_code(),
            #[cfg(feature = "tui")]
            Error::Cockpit(e) => e.exit_code(),
            Error::Control(_)
            | Error::StopUnfinished(_)
            | Error::DemoUnpack { .. }
            | Error::DemoManifest(_)
            | Error::Runtime(_)
            | Error::SessionTask(_)
            | Error::WatchEndedEarly
            | Error::Json(_)
            | Error::Stdout(_) => 1,
        }
    }

    /// Ends the command without a word (the reader of standard output has gone).
    pub(crate) fn is_quiet(&self) -> bool {
        matches!(self, Error::StdoutClosed)
    }
}

/// Where journals are, for a journal path that is not there.
fn journals_hint(journals: Option<&Path>) -> String {
    journals.map_or_else(String::new, |dir| {
        format!(" (sessions keep their journals in {} unless --journal said otherwise)", dir.display())
    })
}

/// `"a", "b"`.
fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_exits_2_failures_1_and_a_closed_stdout_0_quietly() {
        let unknown = Error::UnknownNodes { session: "robot".into(), unknown: vec!["ghost".into()], known: vec![] };
        let input = [
            Error::Usage("replay needs a terminal".into()),
            Error::NothingToStop,
            Error::WatchWhat,
            Error::NoProcess(7),
            unknown,
            Error::DemoNode(crate::demo::rust_nodes::Error::NoSuchNode("x".into())),
        ];
        for e in &input {
            assert_eq!((e.exit_code(), e.is_quiet()), (2, false), "{e}");
        }
        let failed = [
            Error::Control(control::Error::NoSession),
            Error::StopUnfinished(control::Error::Closed),
            Error::WatchEndedEarly,
            Error::Stdout(std::io::Error::other("disk full")),
            Error::SessionStart(StartError::RuntimeDir(std::io::Error::other("denied"))),
            Error::SessionRun(RunError::Signals(std::io::Error::other("no signals"))),
            Error::Link(CommandError::SessionEnded),
            #[cfg(feature = "tui")]
            Error::Cockpit(crate::tui::Error::Read(std::io::Error::other("EIO"))),
        ];
        for e in &failed {
            assert_eq!((e.exit_code(), e.is_quiet()), (1, false), "{e}");
        }
        assert_eq!((Error::StdoutClosed.exit_code(), Error::StdoutClosed.is_quiet()), (0, true));
    }

    #[test]
    fn messages_read_as_they_always_did() {
        let one = Error::UnknownNodes { session: "robot".into(), unknown: vec!["ghost".into()], known: vec![] };
        assert_eq!(one.to_string(), r#"no node named "ghost" in session "robot" (it has none); nothing was stopped"#);
        let two = Error::UnknownNodes {
            session: "robot".into(),
            unknown: vec!["a".into(), "b".into()],
            known: vec!["camera".into(), "detector".into()],
        };
        assert_eq!(
            two.to_string(),
            r#"no nodes named "a", "b" in session "robot" (its nodes: camera, detector); nothing was stopped"#
        );
        // What was being done, then the system's words.
        assert_eq!(
            Error::SessionStart(StartError::RuntimeDir(std::io::Error::other("denied"))).to_string(),
            "cannot create the runtime directory: denied"
        );
        assert_eq!(Error::Link(CommandError::SessionEnded).to_string(), "the session ended");
        assert_eq!(
            Error::StopUnfinished(control::Error::Closed).to_string(),
            "the session ended before the stop did: the supervisor closed the connection (did the session end?)"
        );
        assert_eq!(Error::NoProcess(42).to_string(), "no process 42");
    }
}
