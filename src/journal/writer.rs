//! The journal writer: events are serialized on the hub's thread and written by a worker
//! thread, flushed after every batch so a crash loses at most the batch in flight.
//!
//! A normal end loses nothing: [`JournalWriter::finish`] waits until the worker has written
//! and flushed every line it was given (a slow or throttled disk makes the end slower, never
//! the journal shorter). While the session runs, a disk that falls behind is waited for, up to
//! a point: the supervisor must keep its deadlines, so a disk that takes nothing for
//! [`STALL_PATIENCE`] ends the journal with a failure instead of freezing the session. Every
//! failure is kept and returned by the next [`JournalWriter::append`] and by `finish`, so the
//! session can say that the journal stopped and why.
//!
//! Every so often (see [`CheckpointPolicy`]) the caller, which folds the events anyway, is told
//! that a checkpoint is due ([`JournalWriter::checkpoint_due`]) and hands its state to
//! [`JournalWriter::checkpoint`]: a record of it goes into the journal right after the event it
//! follows, so the journal seeks anywhere with no index (see [`super::checkpoint`]).

use super::checkpoint::{self, CheckpointPolicy};
use crate::event::Event;
use crate::state::State;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Bytes queued for the worker before `append` waits for it.
const QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// How long `append` waits for a disk that takes nothing before it gives the journal up.
pub(crate) const STALL_PATIENCE: Duration = Duration::from_secs(10);

/// How long `finish` waits for a disk that does not take the last lines.
const CLOSE_PATIENCE: Duration = Duration::from_secs(60);

pub struct JournalWriter {
    path: PathBuf,
    tx: Option<Sender<Vec<u8>>>,
    /// Bytes sent to the worker and not written yet.
    queued: Arc<AtomicUsize>,
    /// Says the worker has written and flushed everything and is gone.
    done: Option<Receiver<()>>,
    /// The first failure, as text: from then on nothing more is written.
    failure: Arc<OnceLock<String>>,
    stall_patience: Duration,
    line: Vec<u8>,
    written: u64,
    bytes: u64,
    /// When checkpoints are due; none are written without one.
    checkpoints: Option<CheckpointPolicy>,
    /// Events and bytes since the last checkpoint (or the start).
    since_checkpoint: (u64, u64),
    /// Bytes of the last checkpoint (written or not: the next one's size, about).
    last_checkpoint: u64,
    /// Bytes of every event, and of every checkpoint written.
    event_bytes: u64,
    checkpoint_bytes: u64,
    /// `seq` and `t` of the last event appended.
    last: (u64, u64),
}

/// Why the journal stopped taking events: the first failure, kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError(pub String);

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WriteError {}

impl WriteError {
    /// A journal that could not be written is a failure of the run: exit status 1.
    pub fn exit_code(&self) -> u8 {
        1
    }
}

impl JournalWriter {
    /// Creates the journal (and its directory). Refuses to overwrite an existing file.
    pub fn create(path: &Path) -> std::io::Result<JournalWriter> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot create journal {}: {e}", path.display())))?;
        JournalWriter::start(path, BufWriter::with_capacity(256 * 1024, file), STALL_PATIENCE)
    }

    /// Creates a new journal at `path` or, when a file is there already (two sessions of one
    /// name started within the same second), beside it with `-2`, `-3`… before its extension.
    /// Returns the journal and where it is.
    pub fn create_numbered(path: &Path) -> std::io::Result<(JournalWriter, std::path::PathBuf)> {
        let mut candidate = path.to_path_buf();
        for n in 2..1000 {
            match JournalWriter::create(&candidate) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
                    candidate = path.with_file_name(format!("{stem}-{n}{ext}"));
                }
                other => return other.map(|w| (w, candidate)),
            }
        }
        JournalWriter::create(&candidate).map(|w| (w, candidate))
    }

    /// A writer whose worker writes to `out`.
    fn start(
        path: &Path,
        out: impl Write + Send + 'static,
        stall_patience: Duration,
    ) -> std::io::Result<JournalWriter> {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let (done_tx, done) = std::sync::mpsc::sync_channel::<()>(1);
        let failure = Arc::new(OnceLock::new());
        let queued = Arc::new(AtomicUsize::new(0));
        let (worker_failure, worker_queued) = (Arc::clone(&failure), Arc::clone(&queued));
        std::thread::Builder::new().name("gw-journal".into()).spawn(move || {
            write_lines(&rx, out, &worker_failure, &worker_queued);
            let _ = done_tx.send(());
        })?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            tx: Some(tx),
            queued,
            done: Some(done),
            failure,
            stall_patience,
            line: Vec::with_capacity(512),
            written: 0,
            bytes: 0,
            checkpoints: Some(CheckpointPolicy::default()),
            since_checkpoint: (0, 0),
            last_checkpoint: 0,
            event_bytes: 0,
            checkpoint_bytes: 0,
            last: (0, 0),
        })
    }

    /// Takes checkpoints by `policy` (the default one unless told), or none.
    #[must_use]
    pub fn with_checkpoints(mut self, policy: Option<CheckpointPolicy>) -> JournalWriter {
        self.checkpoints = policy;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes of the journal so far: where the next event's line will start.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn append(&mut self, event: &Event) -> std::io::Result<()> {
        if let Some(e) = self.failure.get() {
            return Err(std::io::Error::other(e.clone()));
        }
        self.line.clear();
        if let Err(e) = serde_json::to_writer(&mut self.line, event) {
            return Err(self.fail(format!("an event could not be written as JSON: {e}")));
        }
        self.line.push(b'\n');
        let line = self.line.clone();
        let len = line.len();
        self.send(line)?;
        self.written += 1;
        self.since_checkpoint.0 += 1;
        self.since_checkpoint.1 += len as u64;
        self.event_bytes += len as u64;
        self.last = (event.seq, event.t);
        Ok(())
    }

    /// Is a checkpoint due after the last event appended? (Never before the first.)
    pub fn checkpoint_due(&self) -> bool {
        let (events, bytes) = self.since_checkpoint;
        self.checkpoints.is_some_and(|p| {
            events > 0
                && (events >= p.every_events || bytes >= p.every_bytes)
                && self.within_share(self.last_checkpoint, p.ratio)
        })
    }

    /// Would checkpoints take at most `1/ratio` of the events' bytes with one more of `len`?
    fn within_share(&self, len: u64, ratio: u64) -> bool {
        self.checkpoint_bytes.saturating_add(len).saturating_mul(ratio) <= self.event_bytes
    }

    /// Appends a checkpoint: `state` must be the fold of every event appended so far. One that
    /// would bring the checkpoints over the policy's share of the journal (a state grown large)
    /// is not written: the next is due once the events have made room for one of its size.
    pub fn checkpoint(&mut self, state: &State) -> std::io::Result<()> {
        if let Some(e) = self.failure.get() {
            return Err(std::io::Error::other(e.clone()));
        }
        let mut line = Vec::with_capacity(self.line.capacity());
        if let Err(e) = checkpoint::write_record(&mut line, self.last, self.written, self.bytes, state) {
            return Err(self.fail(format!("a checkpoint could not be written as JSON: {e}")));
        }
        self.last_checkpoint = line.len() as u64;
        if !self.within_share(self.last_checkpoint, self.checkpoints.map_or(0, |p| p.ratio)) {
            return Ok(());
        }
        self.since_checkpoint = (0, 0);
        self.checkpoint_bytes += self.last_checkpoint;
        self.send(line)
    }

    /// Queues a whole line for the worker, waiting for a disk that has fallen behind.
    fn send(&mut self, line: Vec<u8>) -> std::io::Result<()> {
        if self.queued.load(Ordering::Acquire) > QUEUE_BYTES && !self.wait_for_room() {
            return Err(self.fail(format!(
                "the disk took nothing for {:.1}s; events from then on are not kept",
                self.stall_patience.as_secs_f64()
            )));
        }
        let len = line.len();
        self.queued.fetch_add(len, Ordering::AcqRel);
        if self.tx.as_ref().is_none_or(|tx| tx.send(line).is_err()) {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(self.fail("the journal writer stopped".into()));
        }
        self.bytes += len as u64;
        Ok(())
    }

    /// Waits while the disk takes lines; false once it has taken nothing for [`STALL_PATIENCE`].
    fn wait_for_room(&self) -> bool {
        let mut last = self.queued.load(Ordering::Acquire);
        let mut progress = Instant::now();
        while last > QUEUE_BYTES {
            std::thread::sleep(Duration::from_millis(1));
            let now = self.queued.load(Ordering::Acquire);
            if now < last {
                progress = Instant::now();
            } else if progress.elapsed() >= self.stall_patience || self.failure.get().is_some() {
                return false;
            }
            last = now;
        }
        true
    }

    /// Records the first failure (a later one keeps the first) and returns it as an error.
    fn fail(&self, why: String) -> std::io::Error {
        let _ = self.failure.set(why);
        std::io::Error::other(self.failure.get().cloned().unwrap_or_default())
    }

    /// Waits until everything appended is written and flushed (also done on drop). Returns
    /// the first failure, if there was one, or says the disk did not take the last lines.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        self.tx.take();
        if let Some(done) = self.done.take() {
            match done.recv_timeout(CLOSE_PATIENCE) {
                Ok(()) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.failure.set("the journal writer stopped before writing everything".into());
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.failure.set(format!(
                        "the disk did not take the journal's last events within {}s",
                        CLOSE_PATIENCE.as_secs()
                    ));
                }
            }
        }
        match self.failure.get() {
            Some(e) => Err(WriteError(e.clone())),
            None => Ok(()),
        }
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The worker: writes each batch of lines and flushes it, until every sender is gone. After a
/// write error it keeps receiving (so no sender waits on it) and writes nothing more.
fn write_lines(rx: &Receiver<Vec<u8>>, mut out: impl Write, failure: &OnceLock<String>, queued: &AtomicUsize) {
    let mut failed = false;
    let fail = |e: std::io::Error, failed: &mut bool| {
        *failed = true;
        let _ = failure.set(e.to_string());
    };
    let take = |line: &[u8], out: &mut dyn Write, failed: bool| {
        let result = if failed { Ok(()) } else { out.write_all(line) };
        queued.fetch_sub(line.len(), Ordering::AcqRel);
        result
    };
    while let Ok(first) = rx.recv() {
        let mut result = take(&first, &mut out, failed);
        while let Ok(line) = rx.try_recv() {
            let next = take(&line, &mut out, failed || result.is_err());
            result = result.and(next);
        }
        if failed {
            continue;
        }
        if let Err(e) = result.and_then(|()| out.flush()) {
            fail(e, &mut failed);
        }
    }
    if !failed {
        if let Err(e) = out.flush() {
            fail(e, &mut failed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Stream};
    use std::sync::Mutex;

    fn output(seq: u64) -> Event {
        Event {
            seq,
            t: seq * 1000,
            ev: EventKind::Output {
                node: "n".into(),
                stream: Stream::Stdout,
                line: format!("line {seq}"),
                truncated_from: None,
            },
        }
    }

    #[test]
    fn a_taken_name_gets_a_number_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("s-20261123-091100.jsonl");
        let (mut first, at) = JournalWriter::create_numbered(&base).unwrap();
        assert_eq!(at, base);
        first.append(&output(0)).unwrap();
        first.finish().unwrap();
        let (_, second) = JournalWriter::create_numbered(&base).unwrap();
        let (_, third) = JournalWriter::create_numbered(&base).unwrap();
        assert_eq!(second, dir.path().join("s-20261123-091100-2.jsonl"));
        assert_eq!(third, dir.path().join("s-20261123-091100-3.jsonl"));
        assert_eq!(std::fs::read_to_string(&base).unwrap().lines().count(), 1, "the first is untouched");
        // Any other failure is still an error.
        let nowhere = dir.path().join("a-file").join("j.jsonl");
        std::fs::write(dir.path().join("a-file"), b"").unwrap();
        assert!(JournalWriter::create_numbered(&nowhere).is_err());
    }

    #[test]
    fn finish_returns_only_once_every_line_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut w = JournalWriter::create(&path).unwrap();
        for seq in 0..50_000 {
            w.append(&output(seq)).unwrap();
        }
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 50_000);
        assert!(text.ends_with("\"line 49999\"}}}\n"), "{}", &text[text.len() - 80..]);
    }

    /// A writer that takes its time, like a throttled disk.
    struct Slow(Arc<Mutex<Vec<u8>>>);
    impl Write for Slow {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(2));
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_slow_disk_delays_the_end_but_loses_nothing() {
        let sink = Arc::new(Mutex::new(Vec::new()));
        let mut w = JournalWriter::start(Path::new("slow"), Slow(Arc::clone(&sink)), STALL_PATIENCE).unwrap();
        for seq in 0..300 {
            w.append(&output(seq)).unwrap();
        }
        w.finish().unwrap();
        let text = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 300);
        assert!(text.ends_with("\"line 299\"}}}\n"));
        assert_eq!(w.queued.load(Ordering::Acquire), 0);
    }

    /// A disk that takes nothing until `release` is dropped.
    struct Stuck(std::sync::mpsc::Receiver<()>);
    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_disk_that_takes_nothing_ends_the_journal_instead_of_freezing_the_session() {
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let mut w = JournalWriter::start(Path::new("stuck"), Stuck(stuck), Duration::from_millis(300)).unwrap();
        let started = Instant::now();
        let mut kept = 0u64;
        let err = loop {
            match w.append(&output(kept)) {
                Ok(()) => kept += 1,
                Err(e) => break e,
            }
            assert!(started.elapsed() < Duration::from_secs(60), "append never gave up");
        };
        assert!(err.to_string().contains("the disk took nothing for 0.3s"), "{err}");
        assert!(w.written() > 0 && w.written() == kept);
        assert!(w.append(&output(0)).is_err(), "a failed journal stays failed");
        drop(release);
        assert!(w.finish().unwrap_err().to_string().contains("took nothing"));
    }

    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_error_is_kept_and_the_senders_never_wait_on_a_dead_worker() {
        let (tx, rx) = std::sync::mpsc::channel();
        let failure = Arc::new(OnceLock::new());
        let queued = Arc::new(AtomicUsize::new(0));
        for i in 0..100 {
            let line = format!("{i}\n").into_bytes();
            queued.fetch_add(line.len(), Ordering::AcqRel);
            tx.send(line).unwrap();
        }
        let worker = {
            let (failure, queued) = (Arc::clone(&failure), Arc::clone(&queued));
            std::thread::spawn(move || write_lines(&rx, Full, &failure, &queued))
        };
        drop(tx);
        worker.join().unwrap();
        assert_eq!(failure.get().map(String::as_str), Some("no space left on device"));
        assert_eq!(queued.load(Ordering::Acquire), 0, "every line is accounted for, written or not");
    }
}
