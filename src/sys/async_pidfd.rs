//! A pidfd registered with the tokio reactor, to await a process's exit.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Registers `pidfd` for readability (it becomes readable when the process exits).
pub(crate) fn register(pidfd: Arc<OwnedFd>) -> std::io::Result<AsyncFd<Arc<OwnedFd>>> {
    // SAFETY: `register_with_interest` needs the fd to stay open and unchanged for the life of
    // the `AsyncFd`. The `AsyncFd` owns an `Arc<OwnedFd>`: the `OwnedFd` cannot be closed while
    // any clone of the `Arc` lives, and an `OwnedFd`'s raw fd never changes.
    unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }.map_err(std::io::Error::from)
}
