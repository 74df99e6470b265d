//! The names of the hazards gracewatch knows: a leaf that the manifest (its `[hazards]`
//! levels), the fold (the hazards a node has) and the lints (in `hazards`) all name, and that
//! depends on none of them.

use serde::{Deserialize, Serialize};

/// One table: each hazard's variant and the name journals, manifests and `ps --json` use for
/// it. [`HazardId::ALL`] and [`HazardId::as_str`] are made from it, so neither can miss one.
macro_rules! hazard_ids {
    ($($id:ident = $name:literal,)*) => {
        /// Every hazard gracewatch knows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum HazardId {
            $($id,)*
        }

        impl HazardId {
            /// Every hazard, in the order they are judged and listed.
            pub const ALL: &'static [HazardId] = &[$(HazardId::$id,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(HazardId::$id => $name,)*
                }
            }
        }
    };
}

hazard_ids! {
    SigtermIgnored = "sigterm-ignored",
    StopSignalDefault = "stop-signal-default",
    StopSignalBlocked = "stop-signal-blocked",
    HandlerInstallFailed = "handler-install-failed",
    HandlerOffMainThread = "handler-off-main-thread",
    HandlerLost = "handler-lost",
    ForkWithoutExecThreaded = "fork-without-exec-threaded",
    TokensStuck = "tokens-stuck",
    StopUnacknowledged = "stop-unacknowledged",
    SurvivorsAfterExit = "survivors-after-exit",
    PausedDuringStop = "paused-during-stop",
}

impl std::fmt::Display for HazardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::HazardId;

    #[test]
    fn each_hazard_is_written_by_its_name() {
        for id in HazardId::ALL {
            let json = serde_json::to_string(id).unwrap();
            assert_eq!(json, format!("\"{}\"", id.as_str()));
        }
    }
}
