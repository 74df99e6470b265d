//! Small formatting helpers shared by the CLI, the views and the report.

/// `850ms`, `2.5s`, `1m03s`, `2h05m`, rounded to the nearest shown unit (`1.96s` is `2s`).
pub(crate) fn fmt_ms(ms: u64) -> String {
    fmt_ns(ms.saturating_mul(1_000_000))
}

/// Nanoseconds as [`fmt_ms`], or `420µs` below a millisecond; rounded to the nearest shown
/// unit (1.997 ms is `2ms`, 999.6 µs is `1ms`, 59.96 s is `1m00s`).
pub(crate) fn fmt_ns(ns: u64) -> String {
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;
    let nearest = |unit: u64| ns.saturating_add(unit / 2) / unit;
    if ns == 0 {
        "0ms".to_string()
    } else if nearest(1_000) < 1_000 {
        format!("{}µs", nearest(1_000))
    } else if nearest(MS) < 1_000 {
        format!("{}ms", nearest(MS))
    } else if nearest(S / 10) < 600 {
        let tenths = nearest(S / 10);
        if tenths % 10 == 0 { format!("{}s", tenths / 10) } else { format!("{}.{}s", tenths / 10, tenths % 10) }
    } else if nearest(S) < 3_600 {
        let s = nearest(S);
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = nearest(60 * S);
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// A running clock (ns since start) as [`fmt_ns`] but never ahead of itself: truncated, as
/// clocks are (`+8.1s` until 8.2 s have passed), so it agrees with the wall time beside it.
pub(crate) fn fmt_clock_ns(ns: u64) -> String {
    const MS: u64 = 1_000_000;
    if ns < MS {
        return fmt_ns(ns - ns % 1_000);
    }
    let ms = ns / MS;
    let shown = if ms < 1_000 {
        ms
    } else if ms < 60_000 {
        ms - ms % 100
    } else if ms < 3_600_000 {
        ms - ms % 1_000
    } else {
        ms - ms % 60_000
    };
    fmt_ms(shown)
}

/// A session time (ns since start) as `+12.345s`, for timelines.
pub(crate) fn fmt_t(ns: u64) -> String {
    let ms = ns / 1_000_000;
    if ms < 60_000 {
        format!("+{}.{:03}s", ms / 1000, ms % 1000)
    } else {
        format!("+{}m{:02}.{:03}s", ms / 60_000, (ms / 1000) % 60, ms % 1000)
    }
}

/// `512K`, `12.3M`, `1.2G` from KiB.
pub(crate) fn fmt_kib(kib: u64) -> String {
    if kib < 1024 {
        format!("{kib}K")
    } else if kib < 1024 * 1024 {
        format!("{:.1}M", kib as f64 / 1024.0)
    } else {
        format!("{:.1}G", kib as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(fmt_ms(850), "850ms");
        assert_eq!(fmt_ms(2000), "2s");
        assert_eq!(fmt_ms(2500), "2.5s");
        assert_eq!(fmt_ms(63_000), "1m03s");
        assert_eq!(fmt_t(1_234_567_890), "+1.234s");
        assert_eq!(fmt_ms(0), "0ms");
        assert_eq!(fmt_ms(3_599_999), "1h00m");
        assert_eq!(fmt_ms(7_530_000), "2h06m");
    }

    #[test]
    fn durations_are_rounded_not_truncated() {
        assert_eq!(fmt_ns(1_997_000), "2ms");
        assert_eq!(fmt_ns(1_499_999), "1ms");
        assert_eq!(fmt_ns(411_600), "412µs");
        assert_eq!(fmt_ns(999_600), "1ms");
        assert_eq!(fmt_ns(999_600_000), "1s");
        assert_eq!(fmt_ns(1_960_000_000), "2s");
        assert_eq!(fmt_ns(1_949_999_999), "1.9s");
        assert_eq!(fmt_ns(59_960_000_000), "1m00s");
        assert_eq!(fmt_ns(119_500_000_000), "2m00s");
        assert_eq!(fmt_ns(u64::MAX), fmt_ns(u64::MAX - 1));
        assert_eq!(fmt_ms(1_960), "2s");
        // A clock does not run ahead: truncated.
        assert_eq!(fmt_clock_ns(8_190_000_000), "8.1s");
        assert_eq!(fmt_clock_ns(59_999_000_000), "59.9s");
        assert_eq!(fmt_clock_ns(1_997_000), "1ms");
        assert_eq!(fmt_clock_ns(999_600), "999µs");
        assert_eq!(fmt_kib(2048), "2.0M");
    }
}

/// Serde for a map with integer keys as a list of `[key, value]` pairs. JSON object keys are
/// strings, and serde cannot read them back as integers inside an internally tagged enum (the
/// control protocol's `Answer` carries the whole `State` to `attach`).
pub(crate) mod map_as_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// In key order, whatever the map's own order (a `HashMap`'s changes from run to run): the
    /// same map is always the same bytes, so a state's checkpoint can be pinned by its hash.
    pub(crate) fn serialize<'a, M, K, V, S>(map: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + Ord + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        let mut pairs: Vec<(&K, &V)> = map.into_iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        s.collect_seq(pairs)
    }

    pub(crate) fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
