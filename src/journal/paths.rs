//! Where journals go by default: `$XDG_STATE_HOME/gracewatch/journals/SESSION-YYYYMMDD-HHMMSS.jsonl`.

use std::path::PathBuf;

pub fn default_journal_path(session: &str, started_unix_ms: u64) -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(crate::control::session::runtime_dir);
    let stamp =
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(started_unix_ms))
            .to_string();
    // 2026-11-23T09:11:00Z -> 20261123-091100
    let compact: String =
        stamp.chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect::<String>().replace('T', "-");
    base.join("gracewatch").join("journals").join(format!("{session}-{compact}.jsonl"))
}
