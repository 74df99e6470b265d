//! `gracewatch report JOURNAL [--json]`.

use super::args::ReportArgs;
use super::{CliError, CliResult};
use std::process::ExitCode;

pub fn report(args: &ReportArgs) -> CliResult {
    let (events, summary) =
        crate::journal::read_all(&args.journal).map_err(|e| super::journal_error(&args.journal, e))?;
    let report = crate::report::analyze(&events, summary.torn_tail.is_some(), summary.unknown_kinds);
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| CliError::failed(e.to_string()))?;
        super::out::line(&text)?;
    } else {
        super::out::print(&crate::report::text::render(&report))?;
    }
    Ok(ExitCode::from(crate::report::exit_status(&report)))
}
