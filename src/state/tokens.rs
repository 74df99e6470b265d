//! The drop-token ledger of one node: which buffers it lent, to whom, and since when.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenLedger {
    /// Receiver names, interned: tokens refer to them by index.
    receivers: Vec<String>,
    #[serde(skip)]
    receiver_index: HashMap<String, u16>,
    #[serde(with = "crate::util::map_as_pairs")]
    pending: HashMap<u64, Lent>,
    /// Issue order, for the oldest pending token; entries of released tokens are dropped lazily.
    order: VecDeque<(u64, u64)>,
    /// Tokens held per receiver index.
    held: Vec<u32>,
    pub issued_total: u64,
    pub released_total: u64,
    /// `t` of the last release, for drain-aware grace.
    pub last_release_at: Option<u64>,
}

impl PartialEq for TokenLedger {
    /// Compares what the ledger means, not its lookup index (rebuilt after deserialization).
    fn eq(&self, other: &Self) -> bool {
        self.receivers == other.receivers
            && self.pending == other.pending
            && self.order == other.order
            && self.held == other.held
            && self.issued_total == other.issued_total
            && self.released_total == other.released_total
            && self.last_release_at == other.last_release_at
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Lent {
    issued_at: u64,
    holders: Vec<u16>,
}

/// Why a token event did not fit the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    DuplicateIssue(u64),
    NeverIssued(u64),
    NotAHolder(u64, String),
}

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerError::DuplicateIssue(id) => write!(f, "token {id} issued twice"),
            LedgerError::NeverIssued(id) => {
                write!(f, "token {id} released but never issued (or already released by every receiver)")
            }
            LedgerError::NotAHolder(id, r) => {
                write!(f, "token {id} released by {r:?}, which does not hold it")
            }
        }
    }
}

impl TokenLedger {
    fn intern(&mut self, name: &str) -> u16 {
        if self.receiver_index.len() != self.receivers.len() {
            // Rebuilt after deserialization (the index is not serialized).
            self.receiver_index = self.receivers.iter().enumerate().map(|(i, n)| (n.clone(), i as u16)).collect();
        }
        if let Some(i) = self.receiver_index.get(name) {
            return *i;
        }
        let i = self.receivers.len().min(u16::MAX as usize) as u16;
        if (i as usize) == self.receivers.len() {
            self.receivers.push(name.to_string());
            self.held.push(0);
            self.receiver_index.insert(name.to_string(), i);
        }
        i
    }

    pub fn issue(&mut self, id: u64, receivers: &[String], t: u64) -> Result<(), LedgerError> {
        if self.pending.contains_key(&id) {
            return Err(LedgerError::DuplicateIssue(id));
        }
        let mut holders: Vec<u16> = receivers.iter().map(|r| self.intern(r)).collect();
        holders.sort_unstable();
        holders.dedup();
        if holders.is_empty() {
            // A token lent to nobody is returned at once.
            self.issued_total += 1;
            self.released_total += 1;
            return Ok(());
        }
        for h in &holders {
            self.held[*h as usize] += 1;
        }
        self.pending.insert(id, Lent { issued_at: t, holders });
        self.order.push_back((t, id));
        self.issued_total += 1;
        Ok(())
    }

    /// One receiver gave the token back; the token is returned when the last one does.
    pub fn release(&mut self, id: u64, receiver: &str, t: u64) -> Result<(), LedgerError> {
        let idx = self.intern(receiver);
        let lent = self.pending.get_mut(&id).ok_or(LedgerError::NeverIssued(id))?;
        let pos = lent
            .holders
            .iter()
            .position(|h| *h == idx)
            .ok_or_else(|| LedgerError::NotAHolder(id, receiver.to_string()))?;
        lent.holders.swap_remove(pos);
        self.held[idx as usize] = self.held[idx as usize].saturating_sub(1);
        if lent.holders.is_empty() {
            self.pending.remove(&id);
            self.released_total += 1;
            while let Some(&(t, front)) = self.order.front() {
                if self.is_live(t, front) {
                    break;
                }
                self.order.pop_front();
            }
            // A token stuck at the front leaves returned ones queued behind it: compact, so
            // memory stays bounded and walks stay short.
            if self.order.len() > 2 * self.pending.len() + 1024 {
                let pending = &self.pending;
                self.order.retain(|(t, id)| pending.get(id).is_some_and(|l| l.issued_at == *t));
            }
        }
        self.last_release_at = Some(t);
        Ok(())
    }

    /// Would issuing `id` fit the ledger?
    pub fn check_issue(&self, id: u64) -> Result<(), LedgerError> {
        if self.pending.contains_key(&id) { Err(LedgerError::DuplicateIssue(id)) } else { Ok(()) }
    }

    /// Would this release fit the ledger?
    pub fn check_release(&self, id: u64, receiver: &str) -> Result<(), LedgerError> {
        let lent = self.pending.get(&id).ok_or(LedgerError::NeverIssued(id))?;
        let held = lent.holders.iter().any(|h| self.receivers.get(*h as usize).is_some_and(|r| r == receiver));
        if held { Ok(()) } else { Err(LedgerError::NotAHolder(id, receiver.to_string())) }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Is this entry of `order` a token still pending (and not an earlier use of a reused id)?
    fn is_live(&self, t: u64, id: u64) -> bool {
        self.pending.get(&id).is_some_and(|l| l.issued_at == t)
    }

    /// `t` at which the oldest pending token was issued.
    pub fn oldest_issued_at(&self) -> Option<u64> {
        self.order.iter().find(|(t, id)| self.is_live(*t, *id)).map(|(t, _)| *t)
    }

    /// Receivers holding at least one token, with how many.
    pub fn holders(&self) -> impl Iterator<Item = (&str, u32)> {
        self.receivers.iter().zip(self.held.iter()).filter(|(_, n)| **n > 0).map(|(r, n)| (r.as_str(), *n))
    }

    /// Every pending token with its age at `now` and its holders, oldest first, at most `limit`.
    pub fn pending_tokens(&self, now: u64, limit: usize) -> Vec<crate::event::PendingToken> {
        let mut out: Vec<crate::event::PendingToken> = self
            .order
            .iter()
            .filter(|(t, id)| self.is_live(*t, *id))
            .filter_map(|(_, id)| self.pending.get(id).map(|l| (id, l)))
            .take(limit)
            .map(|(id, l)| crate::event::PendingToken {
                id: *id,
                age_ns: now.saturating_sub(l.issued_at),
                holders: l.holders.iter().map(|h| self.receivers[*h as usize].clone()).collect(),
            })
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse(t.age_ns));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_pending_until_every_receiver_releases_it() {
        let mut l = TokenLedger::default();
        l.issue(1, &["a".into(), "b".into()], 10).unwrap();
        l.issue(2, &["a".into()], 20).unwrap();
        assert_eq!(l.pending(), 2);
        assert_eq!(l.oldest_issued_at(), Some(10));
        l.release(1, "a", 30).unwrap();
        assert_eq!(l.pending(), 2);
        assert_eq!(l.holders().collect::<Vec<_>>(), vec![("a", 1), ("b", 1)]);
        l.release(1, "b", 40).unwrap();
        assert_eq!(l.pending(), 1);
        assert_eq!(l.oldest_issued_at(), Some(20));
        assert_eq!(l.last_release_at, Some(40));
        assert_eq!(l.release(1, "b", 50), Err(LedgerError::NeverIssued(1)));
        assert_eq!(l.release(2, "zed", 50), Err(LedgerError::NotAHolder(2, "zed".into())));
        assert_eq!(l.issue(2, &["a".into()], 60), Err(LedgerError::DuplicateIssue(2)));
        let p = l.pending_tokens(100, 10);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].id, p[0].age_ns, p[0].holders.clone()), (2, 80, vec!["a".to_string()]));
    }

    #[test]
    fn a_stuck_token_does_not_make_the_ledger_grow() {
        let mut l = TokenLedger::default();
        l.issue(0, &["slow".into()], 0).unwrap();
        for i in 1..100_000u64 {
            l.issue(i, &["fast".into()], i).unwrap();
            l.release(i, "fast", i).unwrap();
        }
        assert_eq!(l.pending(), 1);
        assert!(l.order.len() < 3000, "order holds {} entries for 1 pending token", l.order.len());
        assert_eq!(l.oldest_issued_at(), Some(0));
        // A reused id is a new token.
        l.issue(5, &["fast".into()], 200_000).unwrap();
        assert_eq!(l.pending_tokens(300_000, 10).iter().map(|t| t.age_ns).collect::<Vec<_>>(), vec![300_000, 100_000]);
    }

    #[test]
    fn survives_a_serde_round_trip() {
        let mut l = TokenLedger::default();
        l.issue(7, &["x".into()], 1).unwrap();
        let mut back: TokenLedger = serde_json::from_str(&serde_json::to_string(&l).unwrap()).unwrap();
        back.issue(8, &["x".into(), "y".into()], 2).unwrap();
        assert_eq!(back.holders().collect::<Vec<_>>(), vec![("x", 2), ("y", 1)]);
        back.release(7, "x", 3).unwrap();
    }
}
