//! A fork without exec, on purpose: the demo of the hazard gracewatch flags. Never use this
//! pattern in real code; it is here so the cockpit has a real process to show.

/// Forks; in the child, runs `child` (which must only make raw syscalls: every other thread
/// of the parent is gone, possibly holding locks) and exits with its status.
pub(crate) fn fork_without_exec(child: fn() -> i32) -> std::io::Result<u32> {
    // SAFETY: fork is safe to call; what is unsafe is running arbitrary code in the child of a
    // multi-threaded parent. The child runs only `child`, whose contract is raw syscalls only,
    // and leaves with `_exit`, never returning into the parent's stack or destructors.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            let status = child();
            // SAFETY: `_exit` skips atexit handlers and destructors copied from the parent.
            unsafe { libc::_exit(status) }
        }
        pid => Ok(pid as u32),
    }
}
