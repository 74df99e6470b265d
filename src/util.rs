//! Small formatting helpers shared by the CLI, the views and the report.

/// `850ms`, `2.5s`, `1m03s`, `2h05m`.
pub fn fmt_ms(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let tenths = ms / 100;
        if tenths % 10 == 0 { format!("{}s", tenths / 10) } else { format!("{}.{}s", tenths / 10, tenths % 10) }
    } else if ms < 3_600_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// Nanoseconds as [`fmt_ms`], or `420µs` below a millisecond.
pub fn fmt_ns(ns: u64) -> String {
    if ns > 0 && ns < 1_000_000 { format!("{}µs", ns / 1_000) } else { fmt_ms(ns / 1_000_000) }
}

/// A session time (ns since start) as `+12.345s`, for timelines.
pub fn fmt_t(ns: u64) -> String {
    let ms = ns / 1_000_000;
    if ms < 60_000 {
        format!("+{}.{:03}s", ms / 1000, ms % 1000)
    } else {
        format!("+{}m{:02}.{:03}s", ms / 60_000, (ms / 1000) % 60, ms % 1000)
    }
}

/// `512K`, `12.3M`, `1.2G` from KiB.
pub fn fmt_kib(kib: u64) -> String {
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
        assert_eq!(fmt_kib(2048), "2.0M");
    }
}

/// Serde for a map with integer keys as a list of `[key, value]` pairs. JSON object keys are
/// strings, and serde cannot read them back as integers inside an internally tagged enum (the
/// control protocol's `Answer` carries the whole `State` to `attach`).
pub mod map_as_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<'a, M, K, V, S>(map: &'a M, s: S) -> Result<S::Ok, S::Error>
    where
        &'a M: IntoIterator<Item = (&'a K, &'a V)>,
        K: Serialize + 'a,
        V: Serialize + 'a,
        S: Serializer,
    {
        s.collect_seq(map)
    }

    pub fn deserialize<'de, M, K, V, D>(d: D) -> Result<M, D::Error>
    where
        M: FromIterator<(K, V)>,
        K: Deserialize<'de>,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
