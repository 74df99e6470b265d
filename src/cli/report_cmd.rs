//! `gracewatch report JOURNAL [--json]`. Exit status: [`crate::report::exit_status`].

use super::args::ReportArgs;
use crate::Error;
use std::process::ExitCode;

pub(super) fn report(args: &ReportArgs) -> Result<ExitCode, Error> {
    let (events, summary) = crate::journal::read_all(&args.journal).map_err(|e| Error::journal(&args.journal, e))?;
    let report = crate::report::analyze(&events, &summary);
    if args.json {
        let text = serde_json::to_string_pretty(&report)?;
        super::out::line(&text)?;
        // The text report says it in its head; JSON readers may not look.
        if let Some(damage) = summary.damage() {
            super::out::note(&format!("gracewatch: journal damaged: {damage}; the report is made of the rest"));
        }
    } else {
        super::out::print(&crate::report::text::render(&report))?;
    }
    Ok(ExitCode::from(crate::report::exit_status(&report)))
}
