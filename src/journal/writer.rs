//! The journal writer: events are serialized on the hub's thread and written by a worker
//! thread, flushed after every batch so a crash loses at most the batch in flight.
//!
//! A normal end loses nothing: [`JournalWriter::finish`] waits until the worker has written
//! and flushed every line it was given (a slow or throttled disk makes the end slower, never
//! the journal shorter). A write error is kept and returned by the next [`JournalWriter::append`],
//! so the session can say that the journal stopped.

use crate::event::Event;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Lines queued for the worker before `append` waits for it (lossless: it waits, never drops).
const QUEUE_LINES: usize = 16 * 1024;

/// How long `finish` waits for a disk that does not take the last lines.
const CLOSE_PATIENCE: Duration = Duration::from_secs(60);

pub struct JournalWriter {
    path: PathBuf,
    tx: Option<SyncSender<Vec<u8>>>,
    /// Says the worker has written and flushed everything and is gone.
    done: Option<Receiver<()>>,
    /// The first write error, as text.
    failure: Arc<OnceLock<String>>,
    line: Vec<u8>,
    written: u64,
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
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(QUEUE_LINES);
        let (done_tx, done) = std::sync::mpsc::sync_channel::<()>(1);
        let failure = Arc::new(OnceLock::new());
        let worker_failure = Arc::clone(&failure);
        std::thread::Builder::new().name("gw-journal".into()).spawn(move || {
            write_lines(&rx, BufWriter::with_capacity(256 * 1024, file), &worker_failure);
            let _ = done_tx.send(());
        })?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            tx: Some(tx),
            done: Some(done),
            failure,
            line: Vec::with_capacity(512),
            written: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Events written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn append(&mut self, event: &Event) -> std::io::Result<()> {
        if let Some(e) = self.failure.get() {
            return Err(std::io::Error::other(e.clone()));
        }
        let Some(tx) = &self.tx else {
            return Err(std::io::Error::other("the journal is closed"));
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, event).map_err(std::io::Error::other)?;
        self.line.push(b'\n');
        let mut line = Vec::with_capacity(self.line.len());
        line.extend_from_slice(&self.line);
        match tx.try_send(line) {
            Ok(()) => {}
            // The disk is behind: wait for it rather than lose the event.
            Err(TrySendError::Full(line)) => {
                tx.send(line).map_err(|_| std::io::Error::other("the journal writer is gone"))?;
            }
            Err(TrySendError::Disconnected(_)) => return Err(std::io::Error::other("the journal writer is gone")),
        }
        self.written += 1;
        Ok(())
    }

    /// Waits until everything appended is written and flushed (also done on drop). Returns
    /// the first write error, if there was one, or says the disk did not take the last lines.
    pub fn finish(&mut self) -> Result<(), String> {
        self.tx.take();
        if let Some(done) = self.done.take() {
            match done.recv_timeout(CLOSE_PATIENCE) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "the disk did not take the journal's last events within {}s",
                        CLOSE_PATIENCE.as_secs()
                    ));
                }
            }
        }
        match self.failure.get() {
            Some(e) => Err(e.clone()),
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
fn write_lines(rx: &Receiver<Vec<u8>>, mut out: impl Write, failure: &OnceLock<String>) {
    let mut failed = false;
    let fail = |e: std::io::Error, failed: &mut bool| {
        *failed = true;
        let _ = failure.set(e.to_string());
    };
    while let Ok(first) = rx.recv() {
        if failed {
            continue;
        }
        let mut result = out.write_all(&first);
        while result.is_ok() {
            match rx.try_recv() {
                Ok(line) => result = out.write_all(&line),
                Err(_) => break,
            }
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
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let sink = Arc::new(Mutex::new(Vec::new()));
        let failure = OnceLock::new();
        let writer = {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || write_lines(&rx, Slow(sink), &failure))
        };
        for i in 0..300 {
            tx.send(format!("{i}\n").into_bytes()).unwrap();
        }
        drop(tx);
        writer.join().unwrap();
        let text = String::from_utf8(sink.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 300);
        assert!(text.ends_with("299\n"));
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
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let failure = Arc::new(OnceLock::new());
        let worker = {
            let failure = Arc::clone(&failure);
            std::thread::spawn(move || write_lines(&rx, Full, &failure))
        };
        for i in 0..100 {
            tx.send(format!("{i}\n").into_bytes()).unwrap();
        }
        drop(tx);
        worker.join().unwrap();
        assert_eq!(failure.get().map(String::as_str), Some("no space left on device"));
    }
}
