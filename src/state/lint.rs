//! The lints a fold judges its nodes by, given to it (see [`super::Fold::new`]) rather than
//! known to it: the fold does not depend on `hazards`, which holds the lints and depends on the
//! fold's state. The shape is tokio-console's: each lint says what it means in general (its
//! summary) and, for a node that has the hazard, what it is about that node (its sentence).

use super::fold::At;
use super::{ActiveHazard, HazardNotice, LogSource, NodeState, State, sentence};
use crate::hazard_id::HazardId;
use crate::manifest::{HazardLevel, Manifest};

/// Hazard notices kept for the hazards panel.
pub(crate) const HAZARD_FEED_CAPACITY: usize = 1_000;

/// A lint: looks at one node and, when the hazard is present, says so in one sentence.
pub trait Lint: Sync {
    fn id(&self) -> HazardId;
    /// One line: what this hazard is and why it matters, independent of any node.
    fn summary(&self) -> &'static str;
    /// `Some(sentence)` when the node has the hazard. The sentence does not start with the
    /// node's name; views prefix it.
    fn check(&self, node: &NodeState) -> Option<String>;
}

/// The set of lints a fold judges by, in the order their hazards are listed.
#[derive(Clone, Copy)]
pub struct Lints(&'static [&'static dyn Lint]);

impl Lints {
    pub(crate) const fn new(table: &'static [&'static dyn Lint]) -> Self {
        Lints(table)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &'static dyn Lint> + use<> {
        let table = self.0;
        table.iter().copied()
    }

    /// The hazards a node has now, in the set's order, skipping those the manifest allows.
    pub(crate) fn evaluate(&self, node: &NodeState, manifest: Option<&Manifest>) -> Vec<(HazardId, String)> {
        self.iter()
            .filter(|l| manifest.is_none_or(|m| m.hazard_level(l.id().as_str()) == HazardLevel::Warn))
            .filter_map(|l| l.check(node).map(|sentence| (l.id(), sentence)))
            .collect()
    }

    /// Judges a node again; hazards it newly has go to the feed and the log.
    pub(super) fn recheck(&self, state: &mut State, name: &str, at: At) {
        let manifest = state.header.as_ref().map(|h| &h.manifest);
        let Some(node) = state.nodes.get(name) else {
            return;
        };
        let found = self.evaluate(node, manifest);
        let mut raised = Vec::new();
        let next: Vec<ActiveHazard> = found
            .into_iter()
            .map(|(id, sentence)| {
                if let Some(h) = node.hazards.iter().find(|h| h.id == id) {
                    ActiveHazard { id, since: h.since, sentence }
                } else {
                    raised.push((id, sentence.clone()));
                    ActiveHazard { id, since: at.t, sentence }
                }
            })
            .collect();
        if let Some(node) = state.nodes.get_mut(name) {
            node.hazards = next;
        }
        for (id, sentence) in raised {
            if state.hazard_feed.len() >= HAZARD_FEED_CAPACITY {
                state.hazard_feed.pop_front();
            }
            state.say(at, Some(name), LogSource::Problem, sentence::hazard_raised(id, &sentence));
            state.hazard_feed.push_back(HazardNotice { t: at.t, node: name.to_string(), id, sentence });
        }
    }
}

/// Two sets are the same when they judge the same hazards in the same order.
impl PartialEq for Lints {
    fn eq(&self, other: &Self) -> bool {
        self.iter().map(Lint::id).eq(other.iter().map(Lint::id))
    }
}

impl std::fmt::Debug for Lints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(Lint::id)).finish()
    }
}
