//! The command line: argument parsing and one module per command. `main` only calls [`main`].

mod args;
#[cfg(feature = "tui")]
mod attach;
mod demo;
pub(crate) mod out;
mod ps;
#[cfg(feature = "tui")]
mod replay;
mod report_cmd;
mod stop;
mod up;
mod watch;
pub(crate) use args::Cli;

use crate::Error;
use clap::Parser;
use std::process::ExitCode;

pub fn main() -> ExitCode {
    // Before any thread exists: every thread, and every node, starts with nothing blocked.
    crate::sys::signal_mask::unblock_all();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if !e.is_quiet() {
                out::note(&format!("gracewatch: error: {e}"));
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    use args::Cmd;
    match cli.command {
        Cmd::Up(a) => up::up(a),
        Cmd::Ps(a) => ps::ps(&a),
        #[cfg(feature = "tui")]
        Cmd::Attach(a) => attach::attach(&a),
        Cmd::Stop(a) => stop::stop(&a),
        #[cfg(feature = "tui")]
        Cmd::Replay(a) => replay::replay(&a),
        #[cfg(not(feature = "tui"))]
        Cmd::Attach(_) => Err(no_cockpit("attach")),
        #[cfg(not(feature = "tui"))]
        Cmd::Replay(_) => Err(no_cockpit("replay")),
        Cmd::Report(a) => report_cmd::report(&a),
        Cmd::Watch(a) => watch::watch(&a),
        Cmd::Demo(a) => demo::demo(a),
        Cmd::PythonClient => demo::python_client(),
        Cmd::DemoNode { name } => Ok(crate::demo::rust_nodes::run(&name)?),
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

/// What a command that needs the cockpit says when gracewatch was built without it (the
/// library without the `tui` feature; the binary always has it).
#[cfg(not(feature = "tui"))]
pub(crate) fn no_cockpit(what: &str) -> Error {
    Error::Usage(format!("{what} needs the cockpit, and this gracewatch was built without it (the `tui` feature)"))
}

/// A current-thread tokio runtime: the supervisor is one loop plus a few helper threads.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)
}
