//! `pthread_atfork` for the node client: report a fork from the child, and optionally refuse
//! to run in a child forked without exec from a multi-threaded process.
//!
//! The child handler runs right after `fork` in a process where only the forking thread
//! exists; other threads may have held locks (the allocator's among them). So it only reads
//! atomics, formats into a stack buffer and makes raw syscalls.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

/// Socket fd the child writes its `fork` line to (-1: none).
static SOCKET_FD: AtomicI32 = AtomicI32::new(-1);
static PARENT_PID: AtomicU32 = AtomicU32::new(0);
static THREADS_AT_FORK: AtomicU32 = AtomicU32::new(0);
static RUNTIME: AtomicBool = AtomicBool::new(false);
static FAIL_FAST: AtomicBool = AtomicBool::new(false);
/// Set in a child after fork: the client there is a no-op.
pub static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();
/// Thread ids of the client's own threads (0: free slot): they are not counted against a fork,
/// since they hold nothing the child's code could wait for.
static CLIENT_TIDS: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];

/// Notes the calling thread as one of the client's own. Call first thing in the thread.
pub fn register_client_thread() {
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    for slot in &CLIENT_TIDS {
        if slot.compare_exchange(0, tid, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            return;
        }
    }
}

/// Forgets the calling thread (it is about to end).
pub fn unregister_client_thread() {
    let tid = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    for slot in &CLIENT_TIDS {
        let _ = slot.compare_exchange(tid, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Exit status of a child refused by fail-fast.
pub const FAIL_FAST_STATUS: i32 = 70;

pub fn set_socket_fd(fd: i32) {
    SOCKET_FD.store(fd, Ordering::Relaxed);
}

pub fn set_runtime_running(running: bool) {
    RUNTIME.store(running, Ordering::Relaxed);
}

pub fn set_fail_fast(on: bool) {
    FAIL_FAST.store(on, Ordering::Relaxed);
}

/// Installs the handlers once per process.
pub fn install() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        // SAFETY: the three function pointers are `extern "C"` functions with the signature
        // pthread_atfork expects; they stay valid for the life of the process.
        let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
        if rc != 0 {
            result = Err(std::io::Error::from_raw_os_error(rc));
        }
    });
    result
}

/// Threads of this process, from `/proc/self/stat` field 20 (read in the prepare handler,
/// where the parent is still whole and allocation is allowed).
fn thread_count() -> u32 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            s.rsplit(')').next().and_then(|rest| rest.split_ascii_whitespace().nth(17)).and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

extern "C" fn prepare() {
    THREADS_AT_FORK.store(thread_count(), Ordering::Relaxed);
    PARENT_PID.store(std::process::id(), Ordering::Relaxed);
}

extern "C" fn parent() {}

/// Writes decimal `n` into `buf` at `at`; returns the new end.
fn put_u32(buf: &mut [u8], mut at: usize, n: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut v = n;
    loop {
        digits[len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while len > 0 && at < buf.len() {
        len -= 1;
        buf[at] = digits[len];
        at += 1;
    }
    at
}

fn put(buf: &mut [u8], at: usize, s: &[u8]) -> usize {
    let n = s.len().min(buf.len() - at);
    buf[at..at + n].copy_from_slice(&s[..n]);
    at + n
}

extern "C" fn child() {
    IN_FORKED_CHILD.store(true, Ordering::Relaxed);
    let threads = THREADS_AT_FORK.load(Ordering::Relaxed);
    let fd = SOCKET_FD.load(Ordering::Relaxed);
    let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
    if fd >= 0 {
        let mut buf = [0u8; 256];
        let mut at = put(&mut buf, 0, b"{\"type\":\"fork\",\"parent_pid\":");
        at = put_u32(&mut buf, at, PARENT_PID.load(Ordering::Relaxed));
        at = put(&mut buf, at, b",\"child_pid\":");
        at = put_u32(&mut buf, at, me);
        at = put(&mut buf, at, b",\"threads\":");
        at = put_u32(&mut buf, at, threads);
        at = put(&mut buf, at, b",\"client_tids\":[");
        let mut first = true;
        for tid in CLIENT_TIDS.iter().map(|t| t.load(Ordering::Relaxed)).filter(|t| *t != 0) {
            if !first {
                at = put(&mut buf, at, b",");
            }
            first = false;
            at = put_u32(&mut buf, at, tid);
        }
        at = put(&mut buf, at, b"]");
        at = put(
            &mut buf,
            at,
            if RUNTIME.load(Ordering::Relaxed) { b",\"runtime\":true}\n" } else { b",\"runtime\":false}\n" },
        );
        // SAFETY: `fd` is the client's socket, inherited by the child and still open; the
        // borrow lasts for this one write.
        let sock = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = rustix::io::write(sock, &buf[..at]);
    }
    let own = CLIENT_TIDS.iter().filter(|t| t.load(Ordering::Relaxed) != 0).count() as u32;
    if FAIL_FAST.load(Ordering::Relaxed) && threads.saturating_sub(own) > 1 {
        let mut buf = [0u8; 240];
        let mut at =
            put(&mut buf, 0, b"gracewatch: refusing to run in a child forked without exec from a process with ");
        at = put_u32(&mut buf, at, threads);
        at = put(&mut buf, at, b" threads: use spawn (posix_spawn) or exec instead\n");
        let _ = rustix::io::write(rustix::stdio::stderr(), &buf[..at]);
        // SAFETY: `_exit` ends the child at once without running the parent's atexit
        // handlers or destructors, which is what a child forked from threads must do.
        unsafe { libc::_exit(FAIL_FAST_STATUS) };
    }
}
