//! `gracewatch demo` and `gracewatch python-client`.

use super::args::DemoArgs;
use super::{CliError, CliResult};
use crate::event::SessionMode;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Unpacks the bundled demo and runs it like `up` would (cockpit unless `--headless`).
pub fn demo(args: DemoArgs) -> CliResult {
    let dir = crate::demo::files::default_dir();
    let path = crate::demo::files::unpack(&dir)
        .map_err(|e| CliError::failed(format!("cannot unpack the demo into {}: {e}", dir.display())))?;
    let manifest = crate::manifest::load(&path).map_err(|e| CliError::failed(e.to_string()))?;
    super::up::run_session(manifest, SessionMode::Demo, args.journal, args.headless, BTreeMap::new())
}

/// Prints the Python client, for nodes gracewatch does not start.
pub fn python_client() -> CliResult {
    super::out::print(crate::supervisor::python_client::SOURCE)?;
    Ok(ExitCode::SUCCESS)
}
