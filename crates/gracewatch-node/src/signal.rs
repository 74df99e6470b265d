//! Signals by name: parsing from manifests and the CLI, and the names written to the journal.
//!
//! Journals and `ps --json` carry signal *names* ("SIGTERM"), never bare numbers, so that a
//! journal read on another machine or by a person says what it means.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A signal number with a name. Realtime signals are named `SIG<n>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// The classic signal names of Linux on `x86_64` and `aarch64`, indexed by number.
const NAMES: [&str; 32] = [
    "",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// Highest signal number Linux knows (`_NSIG - 1`).
pub const MAX_SIGNAL: i32 = 64;

impl Signal {
    pub const HUP: Signal = Signal(1);
    pub const INT: Signal = Signal(2);
    pub const QUIT: Signal = Signal(3);
    pub const ABRT: Signal = Signal(6);
    pub const KILL: Signal = Signal(9);
    pub const USR1: Signal = Signal(10);
    pub const USR2: Signal = Signal(12);
    pub const TERM: Signal = Signal(15);
    pub const CHLD: Signal = Signal(17);
    pub const CONT: Signal = Signal(18);
    pub const STOP: Signal = Signal(19);

    /// The four signals whose disposition every screen shows.
    pub const SHOWN: [Signal; 4] = [Signal::INT, Signal::TERM, Signal::QUIT, Signal::HUP];

    /// A signal from its number, if it is one Linux has.
    pub fn from_number(n: i32) -> Option<Signal> {
        (1..=MAX_SIGNAL).contains(&n).then_some(Signal(n))
    }

    pub fn number(self) -> i32 {
        self.0
    }

    /// `SIGTERM`, or `SIG34` for realtime signals.
    pub fn name(self) -> String {
        match NAMES.get(self.0 as usize) {
            Some(name) if !name.is_empty() => (*name).to_string(),
            _ => format!("SIG{}", self.0),
        }
    }

    /// SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: signals that pause a process rather than end it.
    pub fn pauses(self) -> bool {
        (19..=22).contains(&self.0)
    }

    /// Can this signal end a process by its default action? Not the ones whose default is to
    /// pause, continue or do nothing (SIGCHLD, SIGCONT, SIGURG, SIGWINCH).
    pub fn can_end(self) -> bool {
        !self.pauses() && !matches!(self.0, 17 | 18 | 23 | 28)
    }

    /// Short name without the `SIG` prefix (`TERM`), for narrow columns.
    pub fn short_name(self) -> String {
        let name = self.name();
        name.strip_prefix("SIG").map(str::to_string).unwrap_or(name)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What went wrong parsing a signal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSignal(pub String);

impl fmt::Display for UnknownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown signal {:?}: expected a name such as SIGTERM, TERM or INT, or a number from 1 to {MAX_SIGNAL}",
            self.0
        )
    }
}

impl std::error::Error for UnknownSignal {}

impl std::str::FromStr for Signal {
    type Err = UnknownSignal;

    /// Accepts `SIGTERM`, `TERM`, `term`, `15`, `SIG34`, `SIGRTMIN+2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnknownSignal(s.to_string());
        let trimmed = s.trim();
        if let Ok(n) = trimmed.parse::<i32>() {
            return Signal::from_number(n).ok_or_else(err);
        }
        let upper = trimmed.to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(pos) = NAMES.iter().position(|n| !n.is_empty() && n[3..] == *bare) {
            return Ok(Signal(pos as i32));
        }
        // Common aliases.
        match bare {
            "IOT" => return Ok(Signal::ABRT),
            "CLD" => return Ok(Signal::CHLD),
            "POLL" => return Ok(Signal(29)),
            _ => {}
        }
        if let Some(rest) = bare.strip_prefix("RTMIN") {
            // glibc's SIGRTMIN is 34 (32 and 33 are reserved by the threading library).
            let offset =
                if rest.is_empty() { Some(0) } else { rest.strip_prefix('+').and_then(|r| r.parse::<i32>().ok()) };
            return offset.and_then(|o| Signal::from_number(34 + o)).ok_or_else(err);
        }
        if let Some(rest) = bare.strip_prefix("RTMAX") {
            let offset =
                if rest.is_empty() { Some(0) } else { rest.strip_prefix('-').and_then(|r| r.parse::<i32>().ok()) };
            return offset.and_then(|o| Signal::from_number(MAX_SIGNAL - o)).ok_or_else(err);
        }
        if let Ok(n) = bare.parse::<i32>() {
            return Signal::from_number(n).ok_or_else(err);
        }
        Err(err())
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Signal;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a signal name such as \"SIGTERM\" or a signal number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Signal, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Signal, E> {
                i32::try_from(v)
                    .ok()
                    .and_then(Signal::from_number)
                    .ok_or_else(|| E::custom(UnknownSignal(v.to_string())))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Signal, E> {
                i32::try_from(v)
                    .ok()
                    .and_then(Signal::from_number)
                    .ok_or_else(|| E::custom(UnknownSignal(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

/// A set of signals as the kernel reports it (`SigCgt`, `SigIgn`, `SigBlk`): bit n-1 is signal n.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigSet(pub u64);

impl SigSet {
    pub const EMPTY: SigSet = SigSet(0);

    /// Parses the hexadecimal mask of `/proc/PID/status` (`0000000000004a02`).
    pub fn from_hex(hex: &str) -> Option<SigSet> {
        u64::from_str_radix(hex.trim(), 16).ok().map(SigSet)
    }

    pub fn contains(self, sig: Signal) -> bool {
        (1..=MAX_SIGNAL).contains(&sig.0) && self.0 & (1u64 << (sig.0 - 1)) != 0
    }

    pub fn insert(&mut self, sig: Signal) {
        if (1..=MAX_SIGNAL).contains(&sig.0) {
            self.0 |= 1u64 << (sig.0 - 1);
        }
    }

    #[must_use]
    pub fn intersect(self, other: SigSet) -> SigSet {
        SigSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Signal> {
        (1..=MAX_SIGNAL).map(Signal).filter(move |s| self.contains(*s))
    }
}

impl FromIterator<Signal> for SigSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(iter: I) -> Self {
        let mut set = SigSet::EMPTY;
        for sig in iter {
            set.insert(sig);
        }
        set
    }
}

impl Serialize for SigSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for SigSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let signals: Vec<Signal> = Vec::deserialize(d)?;
        Ok(signals.into_iter().collect())
    }
}

impl fmt::Display for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.iter().map(Signal::short_name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_aliases() {
        assert_eq!("SIGTERM".parse::<Signal>(), Ok(Signal::TERM));
        assert_eq!("term".parse::<Signal>(), Ok(Signal::TERM));
        assert_eq!("15".parse::<Signal>(), Ok(Signal::TERM));
        assert_eq!("SIGRTMIN+2".parse::<Signal>().map(Signal::number), Ok(36));
        assert_eq!("SIG40".parse::<Signal>().map(Signal::number), Ok(40));
        assert!("SIGFOO".parse::<Signal>().is_err());
        assert!("0".parse::<Signal>().is_err());
        assert!("65".parse::<Signal>().is_err());
    }

    #[test]
    fn sigset_reads_proc_masks() {
        // SIGINT(2) and SIGTERM(15) caught.
        let set = SigSet::from_hex("0000000000004002").unwrap();
        assert!(set.contains(Signal::INT));
        assert!(set.contains(Signal::TERM));
        assert!(!set.contains(Signal::HUP));
        assert_eq!(set.to_string(), "INT,TERM");
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["SIGINT","SIGTERM"]"#);
        assert_eq!(serde_json::from_str::<SigSet>(&json).unwrap(), set);
    }
}
