//! The signal mask gracewatch starts with, and the one its nodes start with.
//!
//! A blocked signal stays blocked across fork and exec. A parent that blocked SIGTERM (some
//! runners, shells and language runtimes do, around their own children) would leave gracewatch
//! deaf to the SIGTERM it handles, and every node deaf to the stop signal it installed a
//! handler for: a clean node would then be killed at its deadline.

/// Unblocks every signal in the calling thread. Called first thing in `main`, before any
/// thread exists, so that every thread of gracewatch inherits the empty mask; and in a node's
/// child between fork and exec (it is async-signal-safe: two syscall wrappers, no allocation).
pub(crate) fn unblock_all() {
    // SAFETY: `sigemptyset` initializes a set that lives on this stack frame, and `sigprocmask`
    // reads it and changes only the calling thread's mask (the old mask is not asked for:
    // null). No memory is shared with another thread.
    unsafe {
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        if libc::sigemptyset(set.as_mut_ptr()) == 0 {
            libc::sigprocmask(libc::SIG_SETMASK, set.as_ptr(), std::ptr::null_mut());
        }
    }
}
