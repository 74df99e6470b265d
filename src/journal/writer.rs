//! The journal writer: events are serialized on the hub's thread and written by a worker
//! thread (tracing-appender's non-blocking writer in lossless mode: it blocks rather than
//! drop), flushed after every batch so a crash loses at most the batch in flight.

use crate::event::Event;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};

pub struct JournalWriter {
    path: PathBuf,
    out: NonBlocking,
    guard: Option<WorkerGuard>,
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
        let (out, guard) = NonBlockingBuilder::default()
            .lossy(false)
            .buffered_lines_limit(4096)
            .thread_name("gw-journal")
            .finish(BufWriter::with_capacity(256 * 1024, file));
        Ok(JournalWriter {
            path: path.to_path_buf(),
            out,
            guard: Some(guard),
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
        self.line.clear();
        serde_json::to_writer(&mut self.line, event).map_err(std::io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.written += 1;
        Ok(())
    }

    /// Writes out everything queued and waits for the worker (also done on drop).
    pub fn finish(&mut self) {
        self.guard.take();
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        self.finish();
    }
}
