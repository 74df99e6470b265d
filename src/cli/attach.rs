//! `gracewatch attach`: the cockpit on a running session.

use super::args::SessionArg;
use crate::Error;
use crate::tui::{TuiExit, TuiOptions};
use std::process::ExitCode;

pub(super) fn attach(args: &SessionArg) -> Result<ExitCode, Error> {
    use std::io::IsTerminal;
    let session = crate::control::session::resolve(args.session.as_deref())?;
    // The session is found first, so that a wrong name is said as such; then the terminal.
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        let name = crate::state::shell_join(std::slice::from_ref(&session.name));
        return Err(Error::Usage(format!(
            "attach needs a terminal; for a snapshot of session {name} use `gracewatch ps --session {name}` \
             (or `gracewatch ps --session {name} --json` for a program)"
        )));
    }
    let rt = super::runtime()?;
    rt.block_on(async move {
        let link = crate::control::remote_link::attach(&session.socket)?;
        let socket = session.socket.clone();
        let opts = TuiOptions {
            reconnect: Some(Box::new(move || crate::control::remote_link::attach(&socket))),
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
