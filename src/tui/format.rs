//! Small text pieces the views share: handler glyphs, the countdown gauge, wall-clock time,
//! short forms of exit causes.

use crate::event::{Disposition, ExitCause, Signal, StageAction};
use crate::state::NodeState;

/// What the cockpit shows for one signal of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerMark {
    /// Not sampled yet.
    Unknown,
    Default,
    Caught,
    Ignored,
    /// Blocked on every thread of the main process: nobody can take delivery.
    Blocked,
    /// A library reported that installing its handler failed.
    Failed,
}

impl HandlerMark {
    pub(crate) const ALL: [HandlerMark; 6] = [
        HandlerMark::Default,
        HandlerMark::Caught,
        HandlerMark::Ignored,
        HandlerMark::Blocked,
        HandlerMark::Failed,
        HandlerMark::Unknown,
    ];

    pub(crate) fn glyph(self) -> &'static str {
        match self {
            HandlerMark::Unknown => "?",
            HandlerMark::Default => "·",
            HandlerMark::Caught => "●",
            HandlerMark::Ignored => "○",
            HandlerMark::Blocked => "■",
            HandlerMark::Failed => "✗",
        }
    }

    pub(crate) fn meaning(self) -> &'static str {
        match self {
            HandlerMark::Unknown => "not sampled yet",
            HandlerMark::Default => "default action (usually: die on the spot)",
            HandlerMark::Caught => "caught: a handler is installed",
            HandlerMark::Ignored => "ignored",
            HandlerMark::Blocked => "blocked on every thread: stays pending",
            HandlerMark::Failed => "a library failed to install its handler",
        }
    }

    /// A failed claim outranks what the kernel shows; then ignored, blocked, caught, default.
    pub(crate) fn of(node: &NodeState, sig: Signal, blocked_everywhere: crate::event::SigSet) -> HandlerMark {
        if node.failed_claim_for(sig).is_some() {
            return HandlerMark::Failed;
        }
        // While it starts up, what was read (the views mark it as settling).
        let Some(leader) = node.leader().or_else(|| node.settling_leader()) else { return HandlerMark::Unknown };
        match leader.disposition(sig) {
            Disposition::Ignored => HandlerMark::Ignored,
            _ if blocked_everywhere.contains(sig) => HandlerMark::Blocked,
            Disposition::Caught => HandlerMark::Caught,
            Disposition::Default => HandlerMark::Default,
        }
    }
}

/// A draining bar: `remaining` of `total`, `width` cells, eighth-cell resolution.
pub(crate) fn gauge(remaining: u64, total: u64, width: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    if width == 0 {
        return String::new();
    }
    let eighths = if total == 0 {
        0
    } else {
        ((u128::from(remaining.min(total)) * (width as u128) * 8) / u128::from(total)) as usize
    };
    let full = eighths / 8;
    let part = eighths % 8;
    let mut s = "█".repeat(full);
    let mut used = full;
    if part > 0 && used < width {
        s.push_str(PARTS[part]);
        used += 1;
    }
    s.push_str(&"░".repeat(width - used));
    s
}

/// `12:34:56` (UTC) of a Unix time in ms.
pub(crate) fn utc_hms(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    format!("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60)
}

/// `2026-05-01 12:34:56` (UTC) of a Unix time in ms.
pub(crate) fn utc_datetime(unix_ms: u64) -> String {
    let days = (unix_ms / 86_400_000) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {}", utc_hms(unix_ms))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Exit cause for a table cell; `short` for narrow screens.
pub(crate) fn cause_label(cause: ExitCause, short: bool) -> String {
    match (cause, short) {
        (ExitCause::KilledAtDeadline, false) => "killed-at-deadline".into(),
        (ExitCause::KilledAtDeadline, true) => "killed@dl".into(),
        (ExitCause::ForceKilled, false) => "force-killed".into(),
        (ExitCause::ForceKilled, true) => "forcekill".into(),
        (ExitCause::SpawnFailed, false) => "spawn-failed".into(),
        (ExitCause::SpawnFailed, true) => "no-start".into(),
        // Who sent it is in the detail and the log: the cell names the signal.
        (ExitCause::Signalled { signal, .. }, false) => format!("signalled {}", signal.short_name()),
        (ExitCause::Signalled { signal, .. }, true) => format!("sig {}", signal.short_name()),
        (other, _) => other.as_str().into(),
    }
}

/// A stage for narrow cells: `msg`, `TERM`, `KILL`.
pub(crate) fn stage_short(stage: StageAction) -> String {
    match stage {
        StageAction::Message => "msg".to_string(),
        StageAction::Signal(s) => s.short_name(),
        StageAction::Kill => "KILL".to_string(),
    }
}

/// `12.3%` from per mille of one core.
pub(crate) fn cpu(permille: u32) -> String {
    format!("{}.{}%", permille / 10, permille % 10)
}

/// Cuts `s` to `width` characters, ending in `…` when cut.
pub(crate) fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// Seconds with one decimal for countdowns: `7.8s`, `1m03s` past a minute.
pub(crate) fn countdown(ns: u64) -> String {
    let ms = ns / 1_000_000;
    if ms < 60_000 { format!("{}.{}s", ms / 1000, (ms / 100) % 10) } else { crate::util::fmt_ms(ms) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_drains_by_eighths() {
        assert_eq!(gauge(10, 10, 4), "████");
        assert_eq!(gauge(0, 10, 4), "░░░░");
        assert_eq!(gauge(5, 10, 4), "██░░");
        assert_eq!(gauge(1, 16, 2), "▏░");
        assert_eq!(gauge(3, 0, 3), "░░░");
        assert_eq!(gauge(20, 10, 3), "███");
    }

    #[test]
    fn utc_dates_are_right_across_leap_years() {
        assert_eq!(utc_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(utc_datetime(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc_datetime(1_777_638_896_000), "2026-05-01 12:34:56");
    }

    #[test]
    fn fit_and_countdown() {
        assert_eq!(fit("camera", 10), "camera");
        assert_eq!(fit("camera-front", 8), "camera-…");
        assert_eq!(countdown(7_850_000_000), "7.8s");
        assert_eq!(countdown(63_000_000_000), "1m03s");
        assert_eq!(cpu(123), "12.3%");
    }
}
