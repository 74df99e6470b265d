//! Every command and flag, as clap sees them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "gracewatch",
    version,
    about = "A process supervisor with a live cockpit for the moment most tools leave dark: stopping."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Run the nodes of a manifest (default ./gracewatch.toml), with the cockpit unless --headless.
    Up(UpArgs),
    /// Open the cockpit on a running session.
    Attach(SessionArg),
    /// One snapshot of a running session.
    Ps(PsArgs),
    /// Stop nodes of a running session.
    Stop(StopArgs),
    /// Replay a journal through the cockpit.
    Replay(ReplayArgs),
    /// A post-mortem of a journal.
    Report(ReportArgs),
    /// The cockpit for processes gracewatch did not start.
    Watch(WatchArgs),
    /// Run the bundled demo: one node per shutdown failure gracewatch exists for.
    Demo(DemoArgs),
    /// Print the Python client library (`gracewatch_node.py`).
    PythonClient,
    /// (internal) The guardian process that cleans up if gracewatch is killed.
    #[command(name = "__guardian", hide = true)]
    Guardian { session_id: String },
    /// (internal) A demo node written in Rust.
    #[command(name = "demo-node", hide = true)]
    DemoNode { name: String },
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The manifest: gracewatch.toml or a Procfile.
    #[arg(default_value = "gracewatch.toml")]
    pub manifest: PathBuf,
    /// No cockpit: print every event to stdout.
    #[arg(long)]
    pub headless: bool,
    /// Where to write the journal (default: `$XDG_STATE_HOME/gracewatch/journals/`).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SessionArg {
    /// The session (default: the only one running, or the one of ./gracewatch.toml).
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    #[command(flatten)]
    pub session: SessionArg,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Nodes to stop (or --all). A node that has already exited is said so, not an error; a
    /// name the session does not have stops nothing (exit status 2).
    #[arg(conflicts_with = "all")]
    pub nodes: Vec<String>,
    /// Stop every node, in reverse dependency order.
    #[arg(long)]
    pub all: bool,
    /// SIGKILL now.
    #[arg(long)]
    pub force: bool,
    /// Grace period for this stop (e.g. 5s), instead of the manifest's.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub grace: Option<u64>,
    /// Send SIG instead of the manifest's stop signal, for this stop. The plan's later
    /// escalation stages keep their times, except one that would send SIG again (it is
    /// dropped); SIGKILL makes it a kill after any stop message.
    #[arg(long, value_name = "SIG")]
    pub signal: Option<crate::event::Signal>,
    /// Wait until the nodes have exited, and say how each ended.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub session: SessionArg,
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// A journal file, or a directory of rotated journal files (read in name order).
    pub journal: PathBuf,
    /// Initial playback speed (+/- change it: 0.25x … 64x, above 64 as fast as possible).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Start at this session time (e.g. 12.5s).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub at: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    pub journal: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    #[arg(long, value_name = "PATTERN")]
    pub name: Option<String>,
    #[arg(long, value_name = "PID")]
    pub children_of: Option<u32>,
    /// The signal the watched processes stop on (default SIGTERM): their hazards are judged
    /// against it, and a stop sends it. E.g. SIGINT for `python3 -m http.server`.
    #[arg(long, value_name = "SIG")]
    pub stop_signal: Option<crate::event::Signal>,
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// No cockpit: print every event to stdout.
    #[arg(long)]
    pub headless: bool,
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<u64, crate::manifest::DurationError> {
    crate::manifest::parse_duration_ms(s)
}
