//! Humane durations: `500ms`, `10s`, `1m30s`, `2.5s`, `1h`.

/// A text that is not a duration; says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration {text:?}: expected a number with a unit, such as 500ms, 10s, 2.5s or 1m30s")]
pub struct DurationError {
    /// The text as given.
    pub text: String,
}

/// Parses a duration into milliseconds; the error says what was expected.
pub fn parse_duration_ms(text: &str) -> Result<u64, DurationError> {
    let s = text.trim();
    let bad = || DurationError { text: text.to_string() };
    if s.is_empty() {
        return Err(bad());
    }
    // A bare "0" is allowed; any other bare number is ambiguous.
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" | "sec" | "secs" => 1_000.0,
            "m" | "min" | "mins" => 60_000.0,
            "h" | "hr" | "hrs" => 3_600_000.0,
            _ => return Err(bad()),
        };
        total += value * factor;
        rest = rest[unit_len..].trim_start();
    }
    if !total.is_finite() || total > 365.0 * 86_400_000.0 {
        return Err(bad());
    }
    Ok(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn reads_humane_durations() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("10s"), Ok(10_000));
        assert_eq!(parse_duration_ms("2.5s"), Ok(2_500));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("1m 30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert!(parse_duration_ms("10").is_err());
        assert!(parse_duration_ms("10 parsecs").is_err());
        assert!(parse_duration_ms("").is_err());
        assert!(parse_duration_ms("s").is_err());
        assert_eq!(
            parse_duration_ms("10").unwrap_err().to_string(),
            "bad duration \"10\": expected a number with a unit, such as 500ms, 10s, 2.5s or 1m30s"
        );
    }
}
