//! Opening a journal for replay: its index from the cache when the cache holds a valid one,
//! else built in the background (and cached once complete).
//!
//! The one place that ties [`super::index`] (what an index is, how it is built) to
//! [`super::cache`] (where it is kept), so neither depends on the other.

use super::index::{self, Index, SharedIndex};
use crate::journal::{JournalError, JournalReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Opens a journal: checks its header, then takes its index from the cache directory `cache`
/// when it holds a valid one, else starts indexing in the background (and caches the result).
pub fn open_index(path: &Path, cache: Option<PathBuf>) -> Result<(SharedIndex, Vec<PathBuf>), JournalError> {
    let mut probe = JournalReader::open(path)?;
    // Validates the header (version, shape) before anything is shown.
    probe.next_event()?.ok_or_else(|| JournalError::Empty(path.to_path_buf()))?;
    let files = probe.all_files().to_vec();
    if let Some(cached) = cache.as_deref().and_then(|dir| super::cache::load(dir, &files)) {
        return Ok((Arc::new(RwLock::new(cached)), files));
    }
    let bytes_total = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
    let index = Arc::new(RwLock::new(Index { files: files.clone(), bytes_total, ..Index::default() }));
    let reader = JournalReader::open(path)?;
    let shared = index.clone();
    std::thread::Builder::new()
        .name("gw-replay-index".into())
        .spawn(move || {
            index::build(reader, &shared, |complete| {
                if let Some(dir) = cache.as_deref() {
                    if let Err(e) = super::cache::save(dir, complete) {
                        tracing::debug!("replay index not cached: {e}");
                    }
                }
            });
        })
        .map_err(|e| JournalError::Io(path.to_path_buf(), e))?;
    Ok((index, files))
}
