//! Reading journals back: a file, or a directory of rotated files read in name order.
//!
//! - A torn last line (a crash mid-write) ends the read cleanly and is reported.
//! - A damaged record before the end (a line that is not a whole record, with more lines after
//!   it, or a cut-off last line of a file that is not the last of a rotated set) is skipped,
//!   counted and located; the read goes on.
//! - A journal written by a newer format major version is refused, naming both versions; every
//!   minor version of this major is read.
//! - An event kind this version does not know (inside a known version) is skipped and counted.
//! - Checkpoint records ([`super::checkpoint`]) are not events: they are passed over.

use super::checkpoint;
use crate::event::{Event, EventKind, FORMAT_VERSION};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum JournalError {
    Io(PathBuf, std::io::Error),
    Empty(PathBuf),
    /// A directory with no `*.jsonl` file in it.
    NoJournalIn(PathBuf),
    NoHeader(PathBuf, String),
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            JournalError::Empty(p) => {
                write!(f, "{}: empty journal (no header record)", p.display())
            }
            JournalError::NoHeader(p, e) => {
                write!(f, "{}: not a gracewatch journal: the first line is not a session header ({e})", p.display())
            }
            JournalError::NewerFormat { path, found, supported } => write!(
                f,
                "{}: journal format version {found} is newer than this gracewatch reads (version {supported}); use a newer gracewatch",
                path.display()
            ),
            JournalError::NoJournalIn(dir) => {
                write!(f, "no journal in {}: a journal is a .jsonl file or a directory of them", dir.display())
            }
        }
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl JournalError {
    /// Every way a journal cannot be read is bad input: exit status 2.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// A place in a journal: the file (of a rotated set) and the byte offset of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub file: usize,
    pub offset: u64,
}

/// What a read found besides events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    pub events: u64,
    /// Records of kinds this version does not know, skipped.
    pub unknown_kinds: u64,
    /// The last line was cut off (bytes dropped), usually by a crash.
    pub torn_tail: Option<u64>,
    /// Damaged records skipped before the end (lines that are not whole records).
    pub damaged: u64,
    /// Where the first of them are ([`DAMAGED_LOCATED`] at most).
    pub damaged_at: Vec<DamagedAt>,
}

/// How many damaged records a read locates (it counts them all).
pub const DAMAGED_LOCATED: usize = 10;

/// Where a damaged record was: its line (1-based) in its file, and the file's name when the
/// journal is a directory of rotated files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DamagedAt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub line: u64,
}

impl std::fmt::Display for DamagedAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}:{}", self.line),
            None => write!(f, "line {}", self.line),
        }
    }
}

impl ReadSummary {
    /// `1 record skipped at line 483`, `3 records skipped (at lines 12, 40, 483)`: empty when
    /// nothing was damaged.
    pub fn damage(&self) -> Option<String> {
        describe_damage(self.damaged, &self.damaged_at)
    }
}

/// See [`ReadSummary::damage`].
pub fn describe_damage(damaged: u64, at: &[DamagedAt]) -> Option<String> {
    if damaged == 0 {
        return None;
    }
    let records = if damaged == 1 { "1 record".to_string() } else { format!("{damaged} records") };
    let more = damaged.saturating_sub(at.len() as u64);
    let more = if more > 0 { format!(" and {more} more") } else { String::new() };
    Some(match at {
        [] => format!("{records} skipped"),
        [one] if damaged == 1 => format!("{records} skipped at {one}"),
        many => {
            let all_lines = many.iter().all(|a| a.file.is_none());
            let list: Vec<String> =
                many.iter().map(|a| if all_lines { a.line.to_string() } else { a.to_string() }).collect();
            let lines = if all_lines { "lines " } else { "" };
            format!("{records} skipped (at {lines}{}{more})", list.join(", "))
        }
    })
}

/// A streaming reader over a journal file or a directory of rotated files.
pub struct JournalReader {
    /// What was opened (a file or a directory), for messages.
    origin: PathBuf,
    /// Files still to read, after the current one.
    pending_files: Vec<PathBuf>,
    /// Every file, in order.
    all_files: Vec<PathBuf>,
    current: Option<(PathBuf, BufReader<File>)>,
    /// Index in `all_files` of the current file, and the offset of its next line.
    file_index: usize,
    offset: u64,
    /// The current line's number in its file; unknown for a reader that started mid-file.
    line_no: Option<u64>,
    /// The journal is a directory (damage is located by file name and line).
    is_dir: bool,
    buf: Vec<u8>,
    pub summary: ReadSummary,
    header_checked: bool,
    done: bool,
}

/// Minimal shape of any record, to tell an unknown kind from damage.
#[derive(serde::Deserialize)]
struct Envelope {
    #[allow(dead_code)]
    seq: u64,
    #[allow(dead_code)]
    t: u64,
    #[allow(dead_code)]
    ev: serde::de::IgnoredAny,
}

impl JournalReader {
    pub fn open(path: &Path) -> Result<JournalReader, JournalError> {
        let meta = std::fs::metadata(path).map_err(|e| JournalError::Io(path.to_path_buf(), e))?;
        let files = if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| JournalError::Io(path.to_path_buf(), e))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(JournalError::NoJournalIn(path.to_path_buf()));
            }
            files
        } else {
            vec![path.to_path_buf()]
        };
        Ok(JournalReader {
            origin: path.to_path_buf(),
            all_files: files.clone(),
            file_index: 0,
            offset: 0,
            pending_files: files,
            current: None,
            line_no: Some(0),
            is_dir: meta.is_dir(),
            buf: Vec::new(),
            summary: ReadSummary::default(),
            header_checked: false,
            done: false,
        })
    }

    fn next_line(&mut self) -> Result<Option<(PathBuf, bool)>, JournalError> {
        loop {
            if self.current.is_none() {
                if self.pending_files.is_empty() {
                    return Ok(None);
                }
                let path = self.pending_files.remove(0);
                let file = File::open(&path).map_err(|e| JournalError::Io(path.clone(), e))?;
                self.file_index = self.all_files.len() - self.pending_files.len() - 1;
                self.offset = 0;
                self.current = Some((path, BufReader::with_capacity(1 << 20, file)));
                self.line_no = Some(0);
            }
            let Some((path, reader)) = &mut self.current else {
                continue;
            };
            self.buf.clear();
            let n = reader.read_until(b'\n', &mut self.buf).map_err(|e| JournalError::Io(path.clone(), e))?;
            if n == 0 {
                self.current = None;
                continue;
            }
            self.offset += n as u64;
            self.line_no = self.line_no.map(|n| n + 1);
            let complete = self.buf.last() == Some(&b'\n');
            return Ok(Some((path.clone(), complete)));
        }
    }

    /// Where the next line starts: (file index, byte offset).
    pub fn position(&self) -> Position {
        Position { file: self.file_index, offset: self.offset }
    }

    /// The files of this journal, in reading order.
    pub fn all_files(&self) -> &[PathBuf] {
        &self.all_files
    }

    /// A reader that starts at `pos` of a journal already read once (no header check there).
    pub fn open_at(files: &[PathBuf], pos: Position) -> Result<JournalReader, JournalError> {
        use std::io::{Seek, SeekFrom};
        let path = files.get(pos.file).cloned().ok_or_else(|| JournalError::Empty(PathBuf::new()))?;
        let mut file = File::open(&path).map_err(|e| JournalError::Io(path.clone(), e))?;
        file.seek(SeekFrom::Start(pos.offset)).map_err(|e| JournalError::Io(path.clone(), e))?;
        Ok(JournalReader {
            origin: path.clone(),
            pending_files: files[pos.file + 1..].to_vec(),
            all_files: files.to_vec(),
            current: Some((path, BufReader::with_capacity(256 * 1024, file))),
            file_index: pos.file,
            offset: pos.offset,
            line_no: (pos.offset == 0).then_some(0),
            is_dir: files.len() > 1,
            buf: Vec::new(),
            summary: ReadSummary::default(),
            header_checked: true,
            done: false,
        })
    }

    /// The next event, `Ok(None)` at the end.
    pub fn next_event(&mut self) -> Result<Option<Event>, JournalError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let Some((path, complete)) = self.next_line()? else {
                self.done = true;
                if !self.header_checked {
                    return Err(JournalError::Empty(self.origin.clone()));
                }
                return Ok(None);
            };
            let text = trim_line(&self.buf);
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Event>(text) {
                Ok(event) => {
                    if !self.header_checked {
                        self.check_header(&path, &event)?;
                    }
                    self.summary.events += 1;
                    return Ok(Some(event));
                }
                Err(e) => {
                    if !self.header_checked {
                        // A newer version may have a header this version cannot parse.
                        if let Some(found) = header_version(text) {
                            if found > FORMAT_VERSION {
                                return Err(JournalError::NewerFormat { path, found, supported: FORMAT_VERSION });
                            }
                        }
                        let why = if complete { e.to_string() } else { "the header record is cut off".to_string() };
                        return Err(JournalError::NoHeader(path, why));
                    }
                    if !complete && self.pending_files.is_empty() {
                        // Torn tail: stop here, cleanly.
                        self.summary.torn_tail = Some(self.buf.len() as u64);
                        self.done = true;
                        return Ok(None);
                    }
                    if complete && checkpoint::is_checkpoint(text) {
                        // A checkpoint of the state, not an event: for seeking (see
                        // `journal::checkpoint`).
                        continue;
                    }
                    if complete && serde_json::from_slice::<Envelope>(text).is_ok() {
                        self.summary.unknown_kinds += 1;
                        continue;
                    }
                    if complete && self.is_last_line() {
                        // A damaged final line that happens to end in a newline: treat as torn.
                        self.summary.torn_tail = Some(self.buf.len() as u64);
                        self.done = true;
                        return Ok(None);
                    }
                    // Damaged, and more follows: skip it, say where, read on.
                    self.note_damage(&path);
                }
            }
        }
    }

    fn note_damage(&mut self, path: &Path) {
        self.summary.damaged += 1;
        if self.summary.damaged_at.len() < DAMAGED_LOCATED {
            let file = self.is_dir.then(|| path.file_name().map(|f| f.to_string_lossy().into_owned())).flatten();
            let line = self.line_no.unwrap_or(0);
            self.summary.damaged_at.push(DamagedAt { file, line });
        }
    }

    fn is_last_line(&mut self) -> bool {
        self.pending_files.is_empty()
            && self.current.as_mut().is_some_and(|(_, r)| r.fill_buf().map_or(true, <[u8]>::is_empty))
    }

    fn check_header(&mut self, path: &Path, event: &Event) -> Result<(), JournalError> {
        self.header_checked = true;
        match &event.ev {
            EventKind::SessionStarted(h) if h.format > FORMAT_VERSION => {
                Err(JournalError::NewerFormat { path: path.to_path_buf(), found: h.format, supported: FORMAT_VERSION })
            }
            EventKind::SessionStarted(_) => Ok(()),
            other => Err(JournalError::NoHeader(path.to_path_buf(), format!("first record is {}", other.name()))),
        }
    }
}

impl Iterator for JournalReader {
    type Item = Result<Event, JournalError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let mut end = buf.len();
    while end > 0 && matches!(buf[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &buf[..end]
}

/// `ev.session_started.format` of a header line, read loosely.
fn header_version(text: &[u8]) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_slice(text).ok()?;
    v.get("ev")?.get("session_started")?.get("format")?.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// Reads a whole journal into memory.
pub fn read_all(path: &Path) -> Result<(Vec<Event>, ReadSummary), JournalError> {
    let mut reader = JournalReader::open(path)?;
    let mut events = Vec::new();
    while let Some(e) = reader.next_event()? {
        events.push(e);
    }
    Ok((events, reader.summary))
}
