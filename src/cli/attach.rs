//! `gracewatch attach`: the cockpit on a running session.

use super::args::SessionArg;
use super::{CliError, CliResult};
use crate::tui::{TuiExit, TuiOptions};
use std::process::ExitCode;

pub fn attach(args: &SessionArg) -> CliResult {
    let session = crate::control::session::resolve(args.session.as_deref()).map_err(CliError::failed)?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let link = crate::control::remote_link::attach(&session.socket).map_err(CliError::failed)?;
        let socket = session.socket.clone();
        let opts = TuiOptions {
            reconnect: Some(Box::new(move || crate::control::remote_link::attach(&socket).map_err(anyhow::Error::msg))),
            ..TuiOptions::default()
        };
        let exit = crate::tui::run(link, opts).await?;
        match exit {
            TuiExit::LinkClosed(reason) => {
                super::out::note(&format!("gracewatch: detached: {reason}"));
                Ok(ExitCode::from(1))
            }
            _ => Ok(ExitCode::SUCCESS),
        }
    })
}
