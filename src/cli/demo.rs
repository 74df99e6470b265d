//! `gracewatch demo` and `gracewatch python-client`.

use super::args::DemoArgs;
use crate::Error;
use crate::event::SessionMode;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Unpacks the bundled demo and runs it like `up` would (cockpit unless `--headless`).
pub(super) fn demo(args: DemoArgs) -> Result<ExitCode, Error> {
    let dir = crate::demo::files::default_dir();
    let path = crate::demo::files::unpack(&dir).map_err(|source| Error::DemoUnpack { dir: dir.clone(), source })?;
    let manifest = crate::manifest::load(&path).map_err(Error::DemoManifest)?;
    super::up::run_session(manifest, SessionMode::Demo, args.journal, args.headless, BTreeMap::new())
}

/// Prints the Python client, for nodes gracewatch does not start.
pub(super) fn python_client() -> Result<ExitCode, Error> {
    super::out::print(crate::supervisor::python_client::SOURCE)?;
    Ok(ExitCode::SUCCESS)
}
