//! The replay index, kept on disk: a journal opened again is seekable at once.
//!
//! One file per journal in the cache directory (`$XDG_CACHE_HOME/gracewatch/replay`), named by
//! a hash of the journal's path. It holds the folded-state checkpoints one after the other,
//! then a header (the marks, what each checkpoint is and where its bytes are, and the
//! fingerprint of the journal it was built from: every file's path, size and modification
//! time), then the header's offset in a fixed-size trailer. A checkpoint's state is read only
//! when a seek needs it.
//!
//! A cache that does not match (the journal grew or was rewritten, another fold version
//! ([`FOLD_VERSION`]) or cache layout, a damaged file) is ignored and rebuilt. Writing one is
//! best effort: a read-only cache directory only means the next open indexes again.

use super::index::{Checkpoint, Index, Mark, Snapshot};
use crate::journal::checkpoint::{self, FOLD_VERSION};
use crate::journal::{DamagedAt, Position, ReadSummary};
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bumped whenever the layout of the cache file changes (what a stored state means is
/// [`FOLD_VERSION`]'s).
const CACHE_VERSION: u32 = 2;

/// The stored checkpoints of one journal take at most a quarter of the journal's size, or this
/// much if that is more; beyond it, every second one is dropped (a seek then folds two
/// intervals instead of one) until they fit.
pub const MIN_BUDGET: u64 = 64 * 1024 * 1024;

/// All cache files together stay under this; the least recently written go first.
pub const DIR_BUDGET: u64 = 2 * 1024 * 1024 * 1024;

/// `\n` + 20 digits (the header's offset) + `\n`.
const TRAILER_LEN: u64 = 22;

/// The default cache directory: `$XDG_CACHE_HOME/gracewatch/replay`, else
/// `~/.cache/gracewatch/replay`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("gracewatch").join("replay"))
}

/// What a journal was when its index was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub path: PathBuf,
    pub len: u64,
    pub modified_ns: u128,
}

pub fn fingerprint(files: &[PathBuf]) -> Option<Vec<FileStamp>> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok()?;
            let modified_ns = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
            Some(FileStamp { path: std::fs::canonicalize(f).ok()?, len: meta.len(), modified_ns })
        })
        .collect()
}

/// The cache file of a journal: FNV-1a of its first file's canonical path.
fn file_for(dir: &Path, stamps: &[FileStamp]) -> Option<PathBuf> {
    let first = stamps.first()?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in first.path.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    Some(dir.join(format!("{h:016x}.idx")))
}

/// Why an index could not be cached.
#[derive(Debug)]
pub enum CacheError {
    /// Only a complete index read without error is cached.
    Incomplete,
    /// The journal's files cannot be read (to fingerprint them).
    JournalUnreadable,
    /// An index of no file.
    NoJournalFile,
    /// The cache directory or file cannot be written.
    Io { path: PathBuf, error: std::io::Error },
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheError::Incomplete => f.write_str("the index is not complete"),
            CacheError::JournalUnreadable => f.write_str("the journal's files cannot be read"),
            CacheError::NoJournalFile => f.write_str("no journal file"),
            CacheError::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CacheError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl CacheError {
    /// An index not cached is a failure (never bad input): exit status 1.
    pub fn exit_code(&self) -> u8 {
        1
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    cache_version: u32,
    /// [`FOLD_VERSION`] of the stored states.
    fold: u32,
    journal: Vec<FileStamp>,
    events: u64,
    end_t: u64,
    events_read: u64,
    unknown_kinds: u64,
    torn_tail: Option<u64>,
    #[serde(default)]
    damaged: u64,
    #[serde(default)]
    damaged_at: Vec<DamagedAt>,
    marks: Vec<Mark>,
    checkpoints: Vec<Stored>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    applied: u64,
    t: u64,
    pos: Position,
    at: u64,
    len: u64,
}

/// Writes a complete index to `dir`. Returns where, or why not.
pub fn save(dir: &Path, index: &Index) -> Result<PathBuf, CacheError> {
    if !index.complete || index.error.is_some() {
        return Err(CacheError::Incomplete);
    }
    let journal = fingerprint(&index.files).ok_or(CacheError::JournalUnreadable)?;
    let path = file_for(dir, &journal).ok_or(CacheError::NoJournalFile)?;
    std::fs::create_dir_all(dir).map_err(|error| CacheError::Io { path: dir.to_path_buf(), error })?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = write_file(&tmp, index, journal);
    match result.and_then(|()| std::fs::rename(&tmp, &path)) {
        Ok(()) => {
            evict(dir, &path, DIR_BUDGET);
            Ok(path)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&tmp);
            Err(CacheError::Io { path, error })
        }
    }
}

fn write_file(tmp: &Path, index: &Index, journal: Vec<FileStamp>) -> std::io::Result<()> {
    let file = std::fs::File::create(tmp)?;
    let mut out = Counted { inner: std::io::BufWriter::with_capacity(1 << 20, file), n: 0 };
    // Sizes first (serialized into a counter, not into memory), so the checkpoints can be
    // thinned to the budget before any is written.
    let mut kept: Vec<(&Checkpoint, std::sync::Arc<crate::state::State>, u64)> = Vec::new();
    for cp in &index.checkpoints {
        let Some(state) = cp.state.get() else { continue };
        let mut counter = Counted { inner: std::io::sink(), n: 0 };
        checkpoint::encode(&state, &mut counter)?;
        kept.push((cp, state, counter.n));
    }
    // Keep the first and the last; thin the rest until they fit.
    let budget = (index.bytes_total / 4).max(MIN_BUDGET);
    while kept.len() > 2 && kept.iter().map(|k| k.2).sum::<u64>() > budget {
        let last = kept.len() - 1;
        kept = kept.into_iter().enumerate().filter(|(i, _)| i % 2 == 0 || *i == last).map(|(_, k)| k).collect();
    }
    let mut stored: Vec<Stored> = Vec::new();
    for (cp, state, _) in kept {
        let at = out.n;
        checkpoint::encode(&state, &mut out)?;
        stored.push(Stored { applied: cp.applied, t: cp.t, pos: cp.pos, at, len: out.n - at });
    }
    let at = out.n;
    let header = Header {
        cache_version: CACHE_VERSION,
        fold: FOLD_VERSION,
        journal,
        events: index.events,
        end_t: index.end_t,
        events_read: index.summary.events,
        unknown_kinds: index.summary.unknown_kinds,
        torn_tail: index.summary.torn_tail,
        damaged: index.summary.damaged,
        damaged_at: index.summary.damaged_at.clone(),
        marks: index.marks.clone(),
        checkpoints: stored,
    };
    serde_json::to_writer(&mut out, &header)?;
    write!(out, "\n{at:020}\n")?;
    out.flush()?;
    out.inner.get_ref().sync_all()
}

/// Deletes the least recently written cache files (never `keep`) until the directory holds at
/// most `budget` bytes.
fn evict(dir: &Path, keep: &Path, budget: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "idx"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    for (_, len, path) in files {
        if total <= budget {
            break;
        }
        if path != keep && std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
}

/// Counts the bytes written through it.
struct Counted<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The index of `files` from the cache, if there is a valid one.
pub fn load(dir: &Path, files: &[PathBuf]) -> Option<Index> {
    let journal = fingerprint(files)?;
    let path = file_for(dir, &journal)?;
    let mut f = std::fs::File::open(&path).ok()?;
    let size = f.metadata().ok()?.len();
    if size < TRAILER_LEN {
        return None;
    }
    f.seek(SeekFrom::Start(size - TRAILER_LEN)).ok()?;
    let mut trailer = [0u8; TRAILER_LEN as usize];
    f.read_exact(&mut trailer).ok()?;
    let header_at: u64 = std::str::from_utf8(&trailer).ok()?.trim().parse().ok()?;
    let header_len = (size - TRAILER_LEN).checked_sub(header_at)?;
    f.seek(SeekFrom::Start(header_at)).ok()?;
    let mut bytes = vec![0u8; usize::try_from(header_len).ok()?];
    f.read_exact(&mut bytes).ok()?;
    let header: Header = serde_json::from_slice(&bytes).ok()?;
    if header.cache_version != CACHE_VERSION
        || header.fold != FOLD_VERSION
        || header.journal != journal
        || header.checkpoints.iter().any(|c| c.at.checked_add(c.len).is_none_or(|end| end > header_at))
    {
        return None;
    }
    let file = Arc::new(path);
    let bytes_total = journal.iter().map(|s| s.len).sum();
    Some(Index {
        files: files.to_vec(),
        checkpoints: header
            .checkpoints
            .into_iter()
            .map(|c| Checkpoint {
                applied: c.applied,
                t: c.t,
                pos: c.pos,
                state: Snapshot::OnDisk { file: file.clone(), at: c.at, len: c.len },
            })
            .collect(),
        marks: header.marks,
        events: header.events,
        end_t: header.end_t,
        summary: ReadSummary {
            events: header.events_read,
            unknown_kinds: header.unknown_kinds,
            torn_tail: header.torn_tail,
            damaged: header.damaged,
            damaged_at: header.damaged_at,
        },
        complete: true,
        error: None,
        bytes_total,
        bytes_read: bytes_total,
        from_cache: true,
        hold: Arc::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached index is used only by the fold that wrote its states.
    #[test]
    fn a_cache_of_another_fold_version_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.jsonl");
        let mut w = crate::journal::JournalWriter::create(&journal).unwrap();
        let header = crate::event::Header::synthetic("s", vec![]);
        w.append(&crate::event::Event { seq: 0, t: 0, ev: crate::event::EventKind::SessionStarted(Box::new(header)) })
            .unwrap();
        w.finish().unwrap();
        let cache = dir.path().join("cache");
        let index =
            std::sync::Arc::new(std::sync::RwLock::new(Index { files: vec![journal.clone()], ..Index::default() }));
        let reader = crate::journal::JournalReader::open(&journal).unwrap();
        let mut saved = None;
        super::super::index::build(reader, &index, |complete| saved = Some(save(&cache, complete).unwrap()));
        let saved = saved.unwrap();
        let loaded = load(&cache, std::slice::from_ref(&journal)).unwrap();
        assert_eq!((loaded.events, loaded.checkpoints.len()), (1, 1));
        assert!(loaded.checkpoints[0].state.get().is_some());
        let text = std::fs::read_to_string(&saved).unwrap();
        let other = text.replacen(&format!("\"fold\":{FOLD_VERSION},"), "\"fold\":999999,", 1);
        assert_ne!(other, text);
        std::fs::write(&saved, other).unwrap();
        // The journal is unchanged: only the fold version differs.
        assert!(load(&cache, &[journal]).is_none(), "a cache of another fold version is not used");
    }

    #[test]
    fn eviction_deletes_the_oldest_first_and_never_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, age_s: u64| {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![0u8; 100]).unwrap();
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age_s);
            std::fs::File::options().write(true).open(&p).unwrap().set_modified(when).unwrap();
            p
        };
        let (old, mid, new) = (at("a.idx", 300), at("b.idx", 200), at("c.idx", 0));
        let other = at("notes.txt", 400);
        evict(dir.path(), &new, 250);
        assert!(!old.exists() && mid.exists() && new.exists() && other.exists());
        evict(dir.path(), &new, 0);
        assert!(!mid.exists() && new.exists(), "the file just written stays");
    }
}
