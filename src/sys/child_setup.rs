//! What a node's process does between fork and exec.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes the child die with SIGKILL when the thread that spawned it exits (gracewatch keeps
/// that thread alive for its whole life, so in practice: when gracewatch dies, even by
/// SIGKILL), and exits at once if gracewatch already died before the child got there.
///
/// Also gives the node a clean slate of signal dispositions and an empty signal mask, as a
/// service manager does: signals ignored by whoever started gracewatch (a shell's `&` ignores
/// SIGINT and SIGQUIT, `nohup` SIGHUP) or blocked by it would otherwise stay so across exec,
/// and a node would never see them.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe operations are allowed. It makes raw syscalls only: prctl and getppid
    // through rustix, `signal(…, SIG_DFL)` for each standard signal, `unblock_all` (only
    // `sigemptyset` and `sigprocmask` on a set on its stack frame; all of these are
    // async-signal-safe in POSIX), and, on failure, `_exit`: no allocation, no locks, no access
    // to state another thread could hold.
    unsafe {
        cmd.pre_exec(move || {
            for sig in 1..32 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            super::signal_mask::unblock_all();
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            if rustix::process::getppid() != Some(parent) {
                // The parent died between fork and prctl: nobody will reap or stop us.
                // `_exit` is async-signal-safe and ends the child without running atexit
                // handlers or destructors copied from the parent (covered by the SAFETY above).
                libc::_exit(137);
            }
            Ok(())
        });
    }
}
