//! The real `gracewatch` binary in a pseudo-terminal, read through a terminal emulator (vt100):
//! type keys at it and look at its screen as a person would.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Generous: machines are shared and noisy. Tests wait for screens, never time them.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Pty {
    pub screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    pub child: Box<dyn portable_pty::Child + Send + Sync>,
    /// The reader thread saw the end of the output.
    reader_done: Arc<std::sync::atomic::AtomicBool>,
}

impl Pty {
    /// Runs `gracewatch ARGS` in `dir`, with its runtime, state and temporary directories
    /// inside `dir` so that tests never see each other.
    pub fn gracewatch(args: &[&str], dir: &Path, rows: u16, cols: u16) -> Pty {
        std::fs::create_dir_all(dir.join("run")).unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gracewatch"));
        cmd.args(args);
        cmd.cwd(dir);
        cmd.env("TMPDIR", dir);
        cmd.env("XDG_RUNTIME_DIR", dir.join("run"));
        cmd.env("XDG_STATE_HOME", dir.join("state"));
        cmd.env("XDG_CACHE_HOME", dir.join("cache"));
        cmd.env_remove("GRACEWATCH_SOCKET");
        cmd.env_remove("GRACEWATCH_NODE");
        cmd.env_remove("NO_COLOR");
        Pty::spawn(cmd, rows, cols)
    }

    /// Runs `cmd` (with `TERM=xterm-256color`) in a `rows`×`cols` pseudo-terminal.
    pub fn spawn(mut cmd: CommandBuilder, rows: u16, cols: u16) -> Pty {
        cmd.env("TERM", "xterm-256color");
        let pair = native_pty_system().openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).unwrap();
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).unwrap(),
            std::num::NonZeroU16::new(cols).unwrap(),
            0,
        )));
        let sink = screen.clone();
        let reader_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = reader_done.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).process(&buf[..n]);
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Keep the master open for the child's lifetime.
        std::mem::forget(pair.master);
        Pty { screen, writer, child, reader_done }
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = self.child.process_id().unwrap();
        rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), sig).unwrap();
    }

    pub fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    pub fn wait_for(&self, what: &str, pred: impl Fn(&vt100::Screen) -> bool) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            if pred(self.screen.lock().unwrap().screen()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.contents());
    }

    pub fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// The table row of `node`.
    pub fn row(&self, node: &str) -> String {
        row_of(self.screen.lock().unwrap().screen(), node)
    }

    /// The name in the row that carries the selection marker.
    pub fn selected(&self) -> Option<String> {
        selected_in(self.screen.lock().unwrap().screen())
    }

    /// Moves the selection down until `node`'s row carries the selection marker. One press at
    /// a time, each seen to move the marker before the next: the screen redraws on its own
    /// all the time, so "the screen changed" does not mean "the key was read".
    pub fn select(&mut self, node: &str) {
        self.wait_for(&format!("a row of {node} and a selected row"), |s| {
            !row_of(s, node).is_empty() && selected_in(s).is_some()
        });
        for _ in 0..20 {
            let Some(before) = self.selected() else { break };
            if before == node {
                return;
            }
            self.keys("j");
            let start = Instant::now();
            // The last row does not move on: then `node` is above it and this gives up.
            while self.selected().as_ref() == Some(&before) && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.selected().as_ref() == Some(&before) {
                break;
            }
        }
        panic!("could not select {node}; screen:\n{}", self.contents());
    }

    /// Waits for the process to exit; its exit code.
    pub fn wait_exit(&mut self) -> u32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.exit_code();
            }
            assert!(start.elapsed() < PATIENCE, "gracewatch did not exit; screen:\n{}", self.contents());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts the terminal was given back: main screen, cursor shown, no mouse reporting.
    /// The process may have exited before the reader thread got its last bytes: wait for them.
    pub fn assert_terminal_restored(&self) {
        let start = Instant::now();
        while start.elapsed() < PATIENCE {
            let restored = {
                let parser = self.screen.lock().unwrap();
                let screen = parser.screen();
                !screen.alternate_screen()
                    && !screen.hide_cursor()
                    && screen.mouse_protocol_mode() == vt100::MouseProtocolMode::None
            };
            if restored || self.reader_done.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let parser = self.screen.lock().unwrap();
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen:\n{}", screen.contents());
        assert!(!screen.hide_cursor(), "cursor still hidden");
        assert_eq!(screen.mouse_protocol_mode(), vt100::MouseProtocolMode::None, "mouse still captured");
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The table row of `node` on a screen (its first line).
pub fn row_of(s: &vt100::Screen, node: &str) -> String {
    let needle = format!("{node} ");
    s.contents().lines().find(|l| l.contains(&needle) && l.starts_with('│')).unwrap_or_default().to_string()
}

/// The name in the table row that carries the selection marker (`│›name`).
pub fn selected_in(screen: &vt100::Screen) -> Option<String> {
    screen
        .contents()
        .lines()
        .find_map(|l| l.strip_prefix("│›"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
}
