//! `gracewatch report`: a post-mortem of a journal. Why did the stop go the way it went?
//!
//! [`analyze`] folds the journal through the same `State` the cockpit uses and collects what a
//! post-mortem needs; [`text::render`] prints it for a terminal or an incident ticket; the
//! JSON form is the [`Report`] itself.

mod analyze;
pub mod text;

pub use analyze::{Report, analyze};

/// Exit status of `gracewatch report`: 0 when every stop ended cleanly, 1 when a node was
/// killed at its deadline, force-killed or sent SIGKILL by hand, or a stop was still running when the journal ends;
/// 3 when the journal is damaged (records were skipped: the report is made of the rest, and
/// what the skipped records said is unknown, so it cannot vouch for a clean shutdown). 2, a
/// journal that cannot be read at all, is the command's.
pub fn exit_status(report: &Report) -> u8 {
    if report.damaged_records > 0 {
        return DAMAGED;
    }
    use crate::event::{ExitCause, Signal};
    // Killed at a deadline or forced; or a stop that never ended (the journal stops first:
    // the supervisor died mid-stop). Either way not every stop ended cleanly.
    let unclean = report.nodes.iter().any(|n| match &n.exit {
        Some(e) => matches!(
            e.cause,
            ExitCause::KilledAtDeadline | ExitCause::ForceKilled | ExitCause::Signalled { signal: Signal::KILL, .. }
        ),
        None => n.stop.is_some(),
    });
    u8::from(unclean)
}

/// The exit status of a report of a damaged journal.
pub(crate) const DAMAGED: u8 = 3;
