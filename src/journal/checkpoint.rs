//! Checkpoints inside a journal: the folded [`State`] written into the journal every so often
//! as it is written, so that any journal, copied from any machine or cut by a crash, seeks
//! anywhere without an index.
//!
//! A checkpoint is a journal record, not an [`crate::event::Event`]: the fold never sees one,
//! attached cockpits never receive one, and [`super::JournalReader`] passes over them. It keeps
//! the event envelope, so a reader from before checkpoints skips it as an event of an unknown
//! kind (its documented way forward) instead of calling it damage:
//!
//! `{"seq":S,"t":T,"ev":{"checkpoint":{"fold":F,"applied":N,"state":{…},"offset":O}}}`
//!
//! - `seq` and `t`: those of the last event folded into it (the checkpoint follows that event);
//! - `fold`: [`FOLD_VERSION`] of the writer: a checkpoint of another fold is not used;
//! - `applied`: events written before it (the state is the fold of them);
//! - `offset`: where its own line starts in the file, last, so that a reader scanning backwards
//!   from any byte finds it by the end of its line and checks it by its start.
//!
//! The writer takes one every [`CheckpointPolicy::every_events`] events or
//! [`CheckpointPolicy::every_bytes`] bytes, whichever comes first, spaced out as the state grows
//! so that they add at most a tenth to the journal ([`CheckpointPolicy::ratio`]). [`nearest`]
//! finds the checkpoint before a moment (a time or an event count) by a binary search on the
//! lines' `seq`/`t` and a scan back from there; [`holds_checkpoints`] tells a journal that has
//! none (written by other means) from its first megabytes.
//!
//! States go through [`encode`] and [`decode`] only: whatever the fold needs that is not
//! serialized is restored in one place.

use crate::state::State;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Version of the fold ([`State::apply`]) and of the state it produces. Bump it whenever the
/// state that a given list of events folds into changes (a fold rule, a sentence kept in the
/// state, a field): checkpoints (in journals and in the replay cache) of another fold version
/// are not used. `tests::the_fold_version_is_bumped_when_the_fold_changes` pins it.
pub const FOLD_VERSION: u32 = 1;

/// When the writer takes a checkpoint: after [`CheckpointPolicy::every_events`] events or
/// [`CheckpointPolicy::every_bytes`] bytes of events, whichever comes first, but only while all
/// checkpoints together stay within `1/`[`CheckpointPolicy::ratio`] of the events' bytes, so
/// that they add at most that to a journal however large the state grows (a seek then folds
/// more: the intervals grow with the state; the small checkpoints of the start leave room for
/// the larger ones after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    pub every_events: u64,
    pub every_bytes: u64,
    pub ratio: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy { every_events: DEFAULT_EVERY_EVENTS, every_bytes: DEFAULT_EVERY_BYTES, ratio: DEFAULT_RATIO }
    }
}

/// See [`CheckpointPolicy`]: a seek folds at most about this many events (while the state is
/// small).
pub const DEFAULT_EVERY_EVENTS: u64 = 100_000;

/// See [`CheckpointPolicy`]: a seek reads and folds at most this many bytes (while the state is
/// small).
pub const DEFAULT_EVERY_BYTES: u64 = 8 * 1024 * 1024;

/// See [`CheckpointPolicy`]: checkpoints add at most a tenth to a journal.
pub const DEFAULT_RATIO: u64 = 10;

/// The first checkpoint of a journal written by the default policy starts within this many
/// bytes (the state after the first events is small): a longer journal without one in them has
/// none ([`holds_checkpoints`]).
pub const FIRST_WITHIN: u64 = DEFAULT_EVERY_BYTES + 1024 * 1024;

/// The state as stored in a checkpoint (in a journal or in the replay cache).
pub fn encode(state: &State, out: impl std::io::Write) -> serde_json::Result<()> {
    serde_json::to_writer(out, state)
}

/// A stored state back. The one place where what the fold needs and a checkpoint does not hold
/// is restored.
pub fn decode(bytes: &[u8]) -> serde_json::Result<State> {
    serde_json::from_slice(bytes)
}

/// A state stored at `at..at + len` of `file` (the replay cache), or `None` if it cannot be read
/// back.
pub fn read_state_at(file: &Path, at: u64, len: u64) -> Option<State> {
    let f = File::open(file).ok()?;
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    f.read_exact_at(&mut bytes, at).ok()?;
    decode(&bytes).ok()
}

/// Appends a checkpoint record (its line, newline included) to `out`. `offset`: where the line
/// will start in the journal file.
pub fn write_record(
    out: &mut Vec<u8>,
    last: (u64, u64),
    applied: u64,
    offset: u64,
    state: &State,
) -> serde_json::Result<()> {
    use std::io::Write as _;
    let (seq, t) = last;
    let _ = write!(
        out,
        "{{\"seq\":{seq},\"t\":{t},\"ev\":{{\"checkpoint\":{{\"fold\":{FOLD_VERSION},\"applied\":{applied},\"state\":"
    );
    encode(state, &mut *out)?;
    let _ = writeln!(out, ",\"offset\":{offset}}}}}}}");
    Ok(())
}

/// The start of any record: `{"seq":S,"t":T,`. Returns (seq, t, the rest).
pub fn line_head(line: &[u8]) -> Option<(u64, u64, &[u8])> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let (seq, rest) = number(rest)?;
    let rest = rest.strip_prefix(b",\"t\":")?;
    let (t, rest) = number(rest)?;
    Some((seq, t, rest.strip_prefix(b",")?))
}

/// What a checkpoint's line says before its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub t: u64,
    pub fold: u32,
    pub applied: u64,
    /// Bytes of the line before the state.
    pub len: usize,
}

const CHECKPOINT_KEY: &[u8] = b"\"ev\":{\"checkpoint\":{\"fold\":";

/// The head of a checkpoint line, or `None` if `line` is not one.
pub fn checkpoint_head(line: &[u8]) -> Option<Head> {
    let (seq, t, rest) = line_head(line)?;
    let rest = rest.strip_prefix(CHECKPOINT_KEY)?;
    let (fold, rest) = number(rest)?;
    let rest = rest.strip_prefix(b",\"applied\":")?;
    let (applied, rest) = number(rest)?;
    let rest = rest.strip_prefix(b",\"state\":")?;
    Some(Head { seq, t, fold: u32::try_from(fold).ok()?, applied, len: line.len() - rest.len() })
}

/// Is this line (whole or cut) a checkpoint record?
pub fn is_checkpoint(line: &[u8]) -> bool {
    line_head(line).is_some_and(|(_, _, rest)| rest.starts_with(CHECKPOINT_KEY))
}

/// The `offset` a checkpoint line ends with (`line` without its newline), if it is one's end.
fn tail_offset(line_end: &[u8]) -> Option<(u64, usize)> {
    let rest = line_end.strip_suffix(b"}}}")?;
    let digits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let (rest, n) = rest.split_at(rest.len() - digits);
    let rest = rest.strip_suffix(b",\"offset\":")?;
    let offset = std::str::from_utf8(n).ok()?.parse().ok()?;
    // The bytes of the line after its state: `,"offset":O}}}`.
    Some((offset, line_end.len() - rest.len()))
}

fn number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let n = std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()?;
    Some((n, &bytes[digits..]))
}

/// A moment of a journal: after every event up to session time `t`, or after `n` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Time(u64),
    Events(u64),
}

/// A checkpoint read back from a journal.
#[derive(Debug, Clone)]
pub struct Found {
    /// Events folded into it.
    pub applied: u64,
    /// `t` of the last of them.
    pub t: u64,
    /// Where the line after it starts: the reading goes on from there.
    pub next: u64,
    pub state: State,
}

/// What [`nearest`] found.
#[derive(Debug)]
pub enum Nearest {
    /// The last checkpoint at or before the moment.
    Found(Box<Found>),
    /// The last checkpoint at or before the moment has no more events than the reader has
    /// already folded: folding on is as good.
    Behind,
    /// None before the moment: fold from the start.
    FromStart,
    /// The checkpoints are of another fold version: not usable.
    Absent,
}

/// Why a journal could not be searched for checkpoints.
#[derive(Debug)]
pub struct SearchError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

impl SearchError {
    /// A journal that cannot be read is bad input: exit status 2.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

impl std::error::Error for SearchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The checkpoint of the journal file `path` nearest before `moment`: read from the file alone
/// (a binary search on the lines' `seq`/`t`, then a scan back to the checkpoint), with no index.
/// `here`: events the reader has folded already ([`Nearest::Behind`] a checkpoint of no more).
pub fn nearest(path: &Path, moment: Moment, here: u64) -> Result<Nearest, SearchError> {
    let fail = |error| SearchError { path: path.to_path_buf(), error };
    let file = File::open(path).map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    let key = |seq: u64, t: u64| match moment {
        Moment::Time(_) => t,
        Moment::Events(_) => seq.saturating_add(1),
    };
    let target = match moment {
        Moment::Time(t) => t,
        Moment::Events(n) => n,
    };
    let end = first_line_after(&file, len, |seq, t| key(seq, t) > target).map_err(fail)?;
    let mut before = end;
    loop {
        let Some((start, next)) = scan_back(&file, before, 0).map_err(fail)? else {
            return Ok(Nearest::FromStart);
        };
        let mut head = [0u8; 128];
        let n = read_some_at(&file, &mut head, start).map_err(fail)?;
        let Some(head) = checkpoint_head(&head[..n]) else {
            before = start;
            continue;
        };
        if head.fold != FOLD_VERSION {
            // Every checkpoint of a journal is of the fold that wrote it.
            return Ok(Nearest::Absent);
        }
        let at_or_before = match moment {
            Moment::Time(t) => head.t <= t,
            Moment::Events(n) => head.applied <= n,
        };
        // (Else past the moment: one of the last lines the binary search could not tell apart.)
        if at_or_before {
            if head.applied <= here {
                return Ok(Nearest::Behind);
            }
            let mut line = vec![0u8; usize::try_from(next - start).unwrap_or(0)];
            file.read_exact_at(&mut line, start).map_err(fail)?;
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            let state = tail_offset(body)
                .and_then(|(_, tail)| body.get(head.len..body.len() - tail))
                .and_then(|state| decode(state).ok());
            if let Some(state) = state {
                return Ok(Nearest::Found(Box::new(Found { applied: head.applied, t: head.t, next, state })));
            }
            // A damaged checkpoint: the one before it.
        }
        before = start;
    }
}

/// Does the journal file `path` hold checkpoints (or is it short enough to need none)? Its
/// first [`FIRST_WITHIN`] bytes tell.
pub fn holds_checkpoints(path: &Path) -> std::io::Result<bool> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len <= FIRST_WITHIN {
        return Ok(true);
    }
    let mut buf = vec![0u8; usize::try_from(CHUNK).unwrap_or(1 << 20)];
    let (mut at, mut line_start) = (0u64, true);
    while at < FIRST_WITHIN {
        let n = read_some_at(&file, &mut buf, at)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        let mut i = 0;
        while i < n {
            // A head cut by the end of the chunk is read again at the start of the next.
            if line_start && n - i < 128 && at + (n as u64) < len {
                break;
            }
            if line_start && is_checkpoint(&chunk[i..]) {
                return Ok(true);
            }
            match memchr::memchr(b'\n', &chunk[i..]) {
                Some(p) => {
                    i += p + 1;
                    line_start = true;
                }
                None => {
                    i = n;
                    line_start = false;
                }
            }
        }
        at += i.max(1) as u64;
    }
    Ok(false)
}

/// `seq` and `t` of the last whole record of the journal file `path` (a checkpoint's are those
/// of the event before it): where it ends, known without reading it all.
pub fn last_record(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let from = len.saturating_sub(CHUNK);
    let mut buf = vec![0u8; usize::try_from(len - from).unwrap_or(0)];
    file.read_exact_at(&mut buf, from)?;
    // Past the last newline: a torn line, not a record.
    let mut end = memchr::memrchr(b'\n', &buf).unwrap_or(0);
    while end > 0 {
        let start = memchr::memrchr(b'\n', &buf[..end]).map(|p| p + 1);
        if let Some((offset, _)) = tail_offset(&buf[end.saturating_sub(40)..end]) {
            // A checkpoint, maybe longer than what was read: its start says where its head is.
            let mut head = [0u8; 128];
            let n = read_some_at(&file, &mut head, offset)?;
            if let Some(h) = checkpoint_head(&head[..n]) {
                return Ok(Some((h.seq, h.t)));
            }
        }
        let Some(start) = start else { return Ok(None) };
        if let Some((seq, t, _)) = line_head(&buf[start..end]) {
            return Ok(Some((seq, t)));
        }
        end = start - 1;
    }
    Ok(None)
}

/// Bytes read per probe of the binary search, and per step of the scan back.
const PROBE: usize = 4096;
const CHUNK: u64 = 1 << 20;

/// A place at or before the start of the first line for which `past(seq, t)` holds (the lines
/// being in order), within a probe: the end of the file if none does.
fn first_line_after(file: &File, len: u64, past: impl Fn(u64, u64) -> bool) -> std::io::Result<u64> {
    // Every line starting before `lo` is not past; every line starting at or after `hi` is.
    let (mut lo, mut hi) = (0u64, len);
    while hi - lo > PROBE as u64 {
        let mid = lo + (hi - lo) / 2;
        match line_at_or_after(file, mid, hi)? {
            Some((start, seq, t)) if past(seq, t) => hi = start,
            Some((start, _, _)) => lo = start + 1,
            None => hi = mid,
        }
    }
    // Where the line around `hi` ends: a line that starts before it and ends after it (a
    // checkpoint the search landed in) is before the moment.
    if hi > 0 && hi < len {
        let mut b = [0u8; 1];
        file.read_exact_at(&mut b, hi - 1)?;
        if b[0] != b'\n' {
            hi = next_newline(file, hi, len)?.map_or(len, |p| p + 1);
        }
    }
    Ok(hi)
}

/// The first line starting at or after `from` (and before `until`) whose head can be read: its
/// start, `seq` and `t`.
fn line_at_or_after(file: &File, from: u64, until: u64) -> std::io::Result<Option<(u64, u64, u64)>> {
    // `from` may be in the middle of a line: the next line starts after the next newline.
    let mut start = match from {
        0 => 0,
        _ => match next_newline(file, from - 1, until)? {
            Some(p) => p + 1,
            None => return Ok(None),
        },
    };
    // `{"seq":` + 20 digits + `,"t":` + 20 digits + `,`.
    let mut head = [0u8; 64];
    while start < until {
        let n = read_some_at(file, &mut head, start)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some((seq, t, _)) = line_head(&head[..n]) {
            return Ok(Some((start, seq, t)));
        }
        match next_newline(file, start, until)? {
            Some(p) => start = p + 1,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// Where the first newline at or after `from` (and before `until`) is.
fn next_newline(file: &File, from: u64, until: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; PROBE];
    let mut at = from;
    while at < until {
        let n = read_some_at(file, &mut buf, at)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(p) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(at + p as u64).filter(|p| *p < until));
        }
        at += n as u64;
    }
    Ok(None)
}

fn read_some_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    loop {
        match file.read_at(buf, at) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Scanning back from `before` (a line start) to `floor`: the last checkpoint line that ends at
/// or before `before`, as (start, end after its newline).
fn scan_back(file: &File, before: u64, floor: u64) -> std::io::Result<Option<(u64, u64)>> {
    // The longest tail a checkpoint line ends with: `,"offset":` + 20 digits + `}}}`.
    const TAIL: u64 = 40;
    let mut hi = before;
    while hi > floor {
        let lo = hi.saturating_sub(CHUNK).max(floor);
        let read_from = lo.saturating_sub(TAIL);
        let mut buf = vec![0u8; usize::try_from(hi - read_from).unwrap_or(0)];
        file.read_exact_at(&mut buf, read_from)?;
        let first = usize::try_from(lo - read_from).unwrap_or(0);
        let mut end = buf.len();
        while let Some(p) = memchr::memrchr(b'\n', &buf[first..end]) {
            let p = first + p;
            end = p;
            let line_end = &buf[p.saturating_sub(TAIL as usize)..p];
            if let Some((start, _)) = tail_offset(line_end) {
                let newline = read_from + p as u64;
                if start < newline && is_checkpoint_at(file, start)? {
                    return Ok(Some((start, newline + 1)));
                }
            }
        }
        hi = lo;
    }
    Ok(None)
}

fn is_checkpoint_at(file: &File, start: u64) -> std::io::Result<bool> {
    let mut head = [0u8; 128];
    let n = read_some_at(file, &mut head, start)?;
    Ok(checkpoint_head(&head[..n]).is_some())
}

#[cfg(test)]
mod tests;
