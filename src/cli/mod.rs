//! The command line: argument parsing and one module per command. `main` only calls [`main`].

mod args;
mod attach;
mod demo;
pub(crate) mod out;
mod ps;
mod replay;
mod report_cmd;
mod stop;
mod up;
mod watch;
pub use args::Cli;

use clap::Parser;
use std::process::ExitCode;

/// An error for the user: printed once by `main`, with the exit status it implies.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Bad input (usage, manifest, unreadable file): exit status 2.
    pub fn input(message: impl Into<String>) -> Self {
        CliError { code: 2, message: message.into() }
    }
    /// The operation failed: exit status 1.
    pub fn failed(message: impl Into<String>) -> Self {
        CliError { code: 1, message: message.into() }
    }
    /// Standard output was closed by its reader (`| head`): stop, say nothing, exit status 0.
    pub fn stdout_closed() -> Self {
        CliError { code: 0, message: String::new() }
    }
    /// Ends the command without a message.
    pub fn is_quiet(&self) -> bool {
        self.message.is_empty()
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::failed(format!("{e:#}"))
    }
}

pub type CliResult = Result<ExitCode, CliError>;

pub fn main() -> ExitCode {
    // Before any thread exists: every thread, and every node, starts with nothing blocked.
    crate::sys::signal_mask::unblock_all();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if !e.is_quiet() {
                out::note(&format!("gracewatch: error: {}", e.message));
            }
            ExitCode::from(e.code)
        }
    }
}

fn run(cli: Cli) -> CliResult {
    use args::Cmd;
    match cli.command {
        Cmd::Up(a) => up::up(a),
        Cmd::Ps(a) => ps::ps(&a),
        Cmd::Attach(a) => attach::attach(&a),
        Cmd::Stop(a) => stop::stop(&a),
        Cmd::Replay(a) => replay::replay(&a),
        Cmd::Report(a) => report_cmd::report(&a),
        Cmd::Watch(a) => watch::watch(&a),
        Cmd::Demo(a) => demo::demo(a),
        Cmd::PythonClient => demo::python_client(),
        Cmd::DemoNode { name } => crate::demo::rust_nodes::run(&name).map_err(CliError::input),
        Cmd::Guardian { session_id } => {
            Ok(ExitCode::from(crate::supervisor::guardian::guardian_main(&session_id) as u8))
        }
    }
}

/// The last line of a session: where its journal is and what to do with it.
pub(crate) fn say_journal(journal: &std::path::Path) {
    let quoted = crate::state::shell_join(&[journal.display().to_string()]);
    out::note(&format!(
        "gracewatch: journal {}\n  see it again: gracewatch replay {quoted}\n  why it went so: gracewatch report {quoted}",
        journal.display()
    ));
}

/// A journal that could not be written to its end says so, once the terminal is ours again.
pub(crate) fn say_journal_problem(outcome: &crate::supervisor::SessionOutcome) {
    if let Some(problem) = &outcome.journal_problem {
        out::note(&format!("gracewatch: the journal is incomplete: {problem}"));
    }
}

/// A journal that cannot be opened: the reader's error, and where journals are when the
/// file is not there.
pub(crate) fn journal_error(path: &std::path::Path, error: impl std::fmt::Display) -> CliError {
    let hint = if path.exists() {
        String::new()
    } else {
        format!(
            " (sessions keep their journals in {} unless --journal said otherwise)",
            crate::journal::journals_dir().display()
        )
    };
    CliError::input(format!("{error}{hint}"))
}

/// A current-thread tokio runtime: the supervisor is one loop plus a few helper threads.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the runtime: {e}")))
}
