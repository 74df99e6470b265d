//! What instrumented nodes reported over the wire.

use super::At;
use crate::event::HandlerClaim;
use crate::state::{CLAIMS_KEPT, ClaimRecord, Connection, LogSource, Phase, State, sentence};

pub(super) fn connected(s: &mut State, at: At, node: &str, pid: u32, language: &str, client_version: &str) {
    s.node_mut(node).connection = Some(Connection {
        since: at.t,
        pid,
        language: language.to_string(),
        client_version: client_version.to_string(),
        listens_stop: false,
        closed: None,
    });
    s.say(at, Some(node), LogSource::Event, sentence::connected(language, client_version, pid));
}

pub(super) fn disconnected(s: &mut State, at: At, node: &str, reason: &str) {
    if let Some(c) = &mut s.node_mut(node).connection {
        c.closed = Some((at.t, reason.to_string()));
    }
    s.say(at, Some(node), LogSource::Event, sentence::disconnected(reason));
}

pub(super) fn stop_listening(s: &mut State, node: &str) {
    if let Some(c) = &mut s.node_mut(node).connection {
        c.listens_stop = true;
    }
}

pub(super) fn refused(s: &mut State, at: At, node: Option<&str>, reason: &str) {
    s.refused_connections += 1;
    s.say(at, node, LogSource::Problem, sentence::connection_refused(reason));
}

pub(super) fn protocol_error(s: &mut State, at: At, node: &str, error: &str) {
    s.node_mut(node).protocol_errors += 1;
    s.say(at, Some(node), LogSource::Problem, sentence::protocol_error(error));
}

pub(super) fn handler_claimed(s: &mut State, at: At, node: &str, claim: &HandlerClaim) {
    let n = s.node_mut(node);
    if n.claims.len() >= CLAIMS_KEPT {
        n.claims.remove(0);
    }
    n.claims.push(ClaimRecord { t: at.t, claim: claim.clone() });
    let (problem, text) = sentence::handler_claimed(claim);
    s.say(at, Some(node), if problem { LogSource::Problem } else { LogSource::Event }, text);
}

/// True during the node's stop, when tokens matter to its hazards.
pub(super) fn token_issued(s: &mut State, at: At, node: &str, id: u64, receivers: &[String]) -> bool {
    let n = s.node_mut(node);
    let _ = n.tokens.issue(id, receivers, at.t);
    n.phase == Phase::Stopping
}

/// True during the node's stop, when tokens matter to its hazards.
pub(super) fn token_released(s: &mut State, at: At, node: &str, id: u64, receiver: &str) -> bool {
    let n = s.node_mut(node);
    let _ = n.tokens.release(id, receiver, at.t);
    n.phase == Phase::Stopping
}

pub(super) fn client_dropped(s: &mut State, node: &str, count: u64) {
    s.node_mut(node).client_dropped += count;
}
