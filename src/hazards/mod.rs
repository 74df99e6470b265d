//! Hazards: lints over a node's folded state. Each has an id, a one-line summary of what it
//! means, and a sentence about the node that raised it. They are pure functions of a node's
//! state, given to the fold ([`lints`]) and computed in it, so live, replay and `ps --json`
//! agree.

mod claims;
mod forks;
mod paused;
mod signals;
mod stops;

pub(crate) use signals::{BLOCK_PERSIST_READS, BLOCK_PERSIST_SPAN_MS, HELD_READS, HELD_SPAN_MS};

pub use crate::hazard_id::HazardId;
pub(crate) use crate::state::sentence::count;
use crate::state::{Lint, Lints};

/// Every lint, one per hazard, in [`HazardId::ALL`] order: the one table the fold is given.
static TABLE: [&dyn Lint; HazardId::ALL.len()] = [
    &signals::SigtermIgnored,
    &signals::StopSignalDefault,
    &signals::StopSignalBlocked,
    &claims::HandlerInstallFailed,
    &claims::HandlerOffMainThread,
    &claims::HandlerLost,
    &forks::ForkWithoutExecThreaded,
    &stops::TokensStuck,
    &stops::StopUnacknowledged,
    &stops::SurvivorsAfterExit,
    &paused::PausedDuringStop,
];

/// The lints every surface folds with (live, `ps`, replay, the report, an attached cockpit):
/// give them to [`crate::state::Fold::new`] or `crate::state::Fold::resume`.
pub fn lints() -> Lints {
    Lints::new(&TABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hazard_has_one_lint_in_the_order_of_the_ids() {
        let ids: Vec<HazardId> = lints().iter().map(Lint::id).collect();
        assert_eq!(ids, HazardId::ALL);
        for lint in lints().iter() {
            assert!(!lint.summary().is_empty(), "{}", lint.id());
        }
    }
}
