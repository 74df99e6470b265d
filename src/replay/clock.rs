//! The replay clock: which session time is on screen, given how much wall time passed, the
//! speed and whether it plays. Pure: the wall time is passed in, so tests need no timer.
//!
//! Also: reading the targets of `:` (a session time, a wall-clock time or an RFC 3339 instant).

use std::time::{Duration, UNIX_EPOCH};

/// The speeds `+`/`-` step through; above the last one, as fast as possible.
pub const SPEEDS: [f64; 9] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// A speed that is not a factor above 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadSpeed(pub f64);

impl std::fmt::Display for BadSpeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad speed {}: expected a factor above 0, such as 0.25, 1 or 8", self.0)
    }
}

impl std::error::Error for BadSpeed {}

impl BadSpeed {
    /// Bad input: exit status 2.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// A go-to target that is not a moment of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadTarget {
    /// Neither a session time, nor a UTC time, nor an RFC 3339 time.
    Unreadable(String),
    /// A time before the session started (RFC 3339, to the millisecond).
    BeforeStart { target: String, started: String },
}

impl std::fmt::Display for BadTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadTarget::Unreadable(text) => write!(
                f,
                "cannot read {text:?}: give a session time (12.5s, 1m3s), a UTC time (14:02:33) or an RFC 3339 time"
            ),
            BadTarget::BeforeStart { target, started } => {
                write!(f, "{target} is before the session started ({started})")
            }
        }
    }
}

impl std::error::Error for BadTarget {}

impl BadTarget {
    /// Bad input: exit status 2.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// How fast session time runs against wall time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Session nanoseconds per wall nanosecond.
    Times(f64),
    /// As fast as the fold goes: as many events as fit in a frame's budget, every frame.
    Max,
}

impl Speed {
    /// A speed from the command line: any factor above 0; above 64, as fast as possible.
    pub fn from_factor(x: f64) -> Result<Speed, BadSpeed> {
        if !x.is_finite() || x <= 0.0 {
            return Err(BadSpeed(x));
        }
        Ok(if x > SPEEDS[SPEEDS.len() - 1] { Speed::Max } else { Speed::Times(x) })
    }

    /// The next speed up the ladder (`+`).
    #[must_use]
    pub fn faster(self) -> Speed {
        match self {
            Speed::Times(x) => SPEEDS.iter().find(|s| **s > x * 1.000_001).map_or(Speed::Max, |s| Speed::Times(*s)),
            Speed::Max => Speed::Max,
        }
    }

    /// The next speed down the ladder (`-`); the slowest stays.
    #[must_use]
    pub fn slower(self) -> Speed {
        match self {
            Speed::Max => Speed::Times(SPEEDS[SPEEDS.len() - 1]),
            Speed::Times(x) => SPEEDS.iter().rev().find(|s| **s < x / 1.000_001).map_or(self, |s| Speed::Times(*s)),
        }
    }

    /// `0.25x`, `1x`, `1.5x`, `max`.
    pub fn label(self) -> String {
        match self {
            Speed::Max => "max".to_string(),
            Speed::Times(x) => {
                let s = format!("{x:.2}");
                let s = s.trim_end_matches('0').trim_end_matches('.');
                format!("{s}x")
            }
        }
    }
}

/// Session time as a function of wall time: `base_t + (wall - base_wall) * speed` while
/// playing, `base_t` while paused. Every change re-anchors at the time shown then, so the
/// picture never jumps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayClock {
    base_t: u64,
    base_wall: u64,
    speed: Speed,
    playing: bool,
}

impl ReplayClock {
    /// Paused at session time `t`.
    pub fn new(t: u64, speed: Speed) -> ReplayClock {
        ReplayClock { base_t: t, base_wall: 0, speed, playing: false }
    }

    pub fn speed(&self) -> Speed {
        self.speed
    }

    pub fn playing(&self) -> bool {
        self.playing
    }

    /// Session time at wall time `wall` (ns on any fixed origin). At [`Speed::Max`] the time
    /// does not run by itself: the driver moves it with [`ReplayClock::set`].
    pub fn at(&self, wall: u64) -> u64 {
        match self.speed {
            Speed::Times(x) if self.playing => {
                let run = wall.saturating_sub(self.base_wall) as f64 * x;
                self.base_t.saturating_add(run as u64)
            }
            _ => self.base_t,
        }
    }

    /// Shows session time `t` from wall time `wall` on (a seek, a step, a lag).
    pub fn set(&mut self, t: u64, wall: u64) {
        self.base_t = t;
        self.base_wall = wall;
    }

    pub fn play(&mut self, wall: u64) {
        let t = self.at(wall);
        self.set(t, wall);
        self.playing = true;
    }

    pub fn pause(&mut self, wall: u64) {
        let t = self.at(wall);
        self.set(t, wall);
        self.playing = false;
    }

    pub fn set_speed(&mut self, speed: Speed, wall: u64) {
        let t = self.at(wall);
        self.set(t, wall);
        self.speed = speed;
    }
}

/// Reads a `:` target into session time (ns):
/// - a session time: `12.5s`, `1m3s`, `+800ms` ([`crate::manifest::parse_duration_ms`]);
/// - a wall-clock time `HH:MM:SS[.fff]`, UTC, on the day the session started;
/// - a full RFC 3339 instant, `2026-05-01T12:35:10Z` (the `T`, the zone and fractions optional).
pub fn parse_target(text: &str, started_unix_ms: u64) -> Result<u64, BadTarget> {
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if let Ok(ms) = crate::manifest::parse_duration_ms(s) {
        return Ok(ms.saturating_mul(1_000_000));
    }
    let wall_ms = if let Some(ms) = parse_hms(s) {
        started_unix_ms - started_unix_ms % 86_400_000 + ms
    } else if let Ok(at) = humantime::parse_rfc3339_weak(s) {
        at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    } else {
        return Err(BadTarget::Unreadable(text.to_string()));
    };
    if wall_ms < started_unix_ms {
        let started = humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(started_unix_ms)).to_string();
        return Err(BadTarget::BeforeStart { target: s.to_string(), started });
    }
    Ok((wall_ms - started_unix_ms).saturating_mul(1_000_000))
}

/// `HH:MM:SS` or `HH:MM:SS.fff` to milliseconds since midnight.
fn parse_hms(s: &str) -> Option<u64> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit()).then(|| x.parse::<u64>().ok()).flatten();
    let (h, m) = (digits(h)?, digits(m)?);
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    if whole.len() != 2 || frac.len() > 9 {
        return None;
    }
    let secs = digits(whole)?;
    let ms = if frac.is_empty() { 0 } else { digits(&format!("{frac:0<3}")[..3])? };
    (h < 24 && m < 60 && secs < 60).then_some(((h * 60 + m) * 60 + secs) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn the_speed_ladder() {
        let mut s = Speed::Times(1.0);
        let mut up = vec![s.label()];
        while s != Speed::Max {
            s = s.faster();
            up.push(s.label());
        }
        assert_eq!(up, ["1x", "2x", "4x", "8x", "16x", "32x", "64x", "max"]);
        let mut down = Vec::new();
        for _ in 0..10 {
            s = s.slower();
            down.push(s.label());
        }
        assert_eq!(down, ["64x", "32x", "16x", "8x", "4x", "2x", "1x", "0.5x", "0.25x", "0.25x"]);
        assert_eq!(Speed::Times(3.0).faster(), Speed::Times(4.0));
        assert_eq!(Speed::Times(3.0).slower(), Speed::Times(2.0));
        assert_eq!(Speed::Times(1.5).label(), "1.5x");
        assert_eq!(Speed::from_factor(100.0), Ok(Speed::Max));
        assert_eq!(Speed::from_factor(64.0), Ok(Speed::Times(64.0)));
        assert!(Speed::from_factor(0.0).is_err());
        assert!(Speed::from_factor(f64::NAN).is_err());
    }

    #[test]
    fn the_clock_runs_only_while_playing_and_never_jumps() {
        let mut c = ReplayClock::new(2 * S, Speed::Times(1.0));
        assert_eq!(c.at(10 * S), 2 * S, "paused");
        c.play(10 * S);
        assert_eq!(c.at(11 * S), 3 * S);
        c.set_speed(Speed::Times(4.0), 11 * S);
        assert_eq!(c.at(11 * S), 3 * S, "a speed change keeps the time shown");
        assert_eq!(c.at(12 * S), 7 * S);
        c.pause(12 * S);
        assert_eq!(c.at(20 * S), 7 * S);
        c.set(S, 20 * S);
        c.play(20 * S);
        assert_eq!(c.at(20 * S + S / 4), S + S);
        c.set_speed(Speed::Max, 21 * S);
        assert_eq!(c.at(99 * S), c.at(21 * S), "at max the driver moves it");
    }

    #[test]
    fn targets_of_the_go_to_prompt() {
        // 2026-05-01 12:34:56.250 UTC.
        let start = 1_777_638_896_250;
        assert_eq!(parse_target("12.5s", start), Ok(12_500 * 1_000_000));
        assert_eq!(parse_target("1m3s", start), Ok(63 * S));
        assert_eq!(parse_target(" +800ms ", start), Ok(800_000_000));
        assert_eq!(parse_target("12:35:00", start), Ok(3_750_000_000));
        assert_eq!(parse_target("12:35:00.5", start), Ok(4_250_000_000));
        assert_eq!(parse_target("2026-05-01T12:35:10Z", start), Ok(13_750_000_000));
        assert_eq!(parse_target("2026-05-01 12:35:10.250", start), Ok(14 * S));
        let before = parse_target("12:00:00", start).unwrap_err().to_string();
        assert!(before.contains("before the session started (2026-05-01T12:34:56.250Z)"), "{before}");
        assert!(parse_target("soon", start).unwrap_err().to_string().contains("cannot read \"soon\""));
        assert!(parse_target("25:00:00", start).is_err());
        assert!(parse_target("12:3:00", start).is_err());
    }
}
