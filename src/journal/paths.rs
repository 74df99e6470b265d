//! Where journals go by default: `$XDG_STATE_HOME/gracewatch/journals/SESSION-YYYYMMDD-HHMMSS.jsonl`
//! (`-2`, `-3`… before the extension when a session of that name started in the same second).

use std::path::PathBuf;

/// gracewatch's own state directory: `$XDG_STATE_HOME/gracewatch` (else
/// `~/.local/state/gracewatch`, else the runtime directory).
pub fn state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(crate::control::session::runtime_dir)
        .join("gracewatch")
}

/// Where journals go unless `--journal` says otherwise.
pub fn journals_dir() -> PathBuf {
    state_dir().join("journals")
}

pub fn default_journal_path(session: &str, started_unix_ms: u64) -> PathBuf {
    let stamp =
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(started_unix_ms))
            .to_string();
    // 2026-11-23T09:11:00Z -> 20261123-091100
    let compact: String =
        stamp.chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect::<String>().replace('T', "-");
    journals_dir().join(format!("{session}-{compact}.jsonl"))
}
