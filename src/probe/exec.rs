//! Did a forked child exec a program, or is it still a copy of its parent?
//!
//! Not from the command line: servers rewrite their argv without exec, pre-fork workers keep
//! their master's exact command line, and `/proc/PID/exe` can point through a symlink. The
//! address-space layout answers instead. A child that only forked has exactly its parent's
//! layout (`startcode`, `startstack`, `/proc/PID/stat` fields 26 and 28); `execve` builds a new
//! address space, and with address-space randomization on the new stack (and, for position
//! independent executables, the code) lands somewhere else.
//!
//! `arg_start` (field 48) is read and shown but not compared: `prctl(PR_SET_MM_ARG_START)` (the
//! way systemd-style `setproctitle` renames a process) moves it without any exec.
//!
//! When randomization is off (`randomize_va_space` = 0, or the parent's personality has
//! `ADDR_NO_RANDOMIZE`) an exec of the same program can land on the same layout, so an equal
//! layout proves nothing and [`by_identity`] compares exe, command line and handlers instead.
//! When the kernel hides the layout (no ptrace-read permission on the process: the fields read
//! 0 or 1) the same fallback is used.

/// Where a process's address space starts, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Layout {
    pub start_code: u64,
    pub start_stack: u64,
    pub arg_start: u64,
}

impl Layout {
    /// Did the kernel show the real values? It shows 0 for zombies and kernel threads and 1
    /// (`startcode`) or 0 (`startstack`) without ptrace-read permission.
    pub(crate) fn is_known(self) -> bool {
        self.start_code > 1 && self.start_stack > 1
    }

    /// The same address space origin (see the module docs for why `arg_start` is left out).
    pub(crate) fn same_origin(self, other: Layout) -> bool {
        self.start_code == other.start_code && self.start_stack == other.start_stack
    }
}

/// What is known about whether a process exec'd since it was forked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExecState {
    /// Not decided yet (too young, or nothing read yet).
    Unknown,
    /// It exec'd (certain: the kernel's exec event, or a new address space).
    Execd,
    /// Still its parent's copy, as far as can be told (it may exec later).
    NotExecd,
}

impl ExecState {
    pub(super) fn decided(self) -> Option<bool> {
        match self {
            ExecState::Unknown => None,
            ExecState::Execd => Some(true),
            ExecState::NotExecd => Some(false),
        }
    }
}

/// A child younger than this may be between its fork and its exec.
pub(super) const YOUNG_MS: u64 = 100;

/// The verdict from the layouts of a child and of its parent at the fork.
///
/// `equal_seen` counts the samples (this one included) that found the layouts equal; a child
/// is called "not exec'd" once it is older than [`YOUNG_MS`] or was found equal twice.
pub(super) fn by_layout(child: Layout, parent: Layout, randomized: bool, age_ms: u64, equal_seen: u32) -> Verdict {
    if !child.is_known() || !parent.is_known() {
        return Verdict::NeedIdentity;
    }
    if !child.same_origin(parent) {
        // A new address space: only execve makes one.
        return Verdict::Decided(ExecState::Execd);
    }
    if !randomized {
        return Verdict::NeedIdentity;
    }
    if age_ms >= YOUNG_MS || equal_seen >= 2 {
        Verdict::Decided(ExecState::NotExecd)
    } else {
        Verdict::Decided(ExecState::Unknown)
    }
}

/// The outcome of [`by_layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Decided(ExecState),
    /// The layout cannot tell: compare identities ([`by_identity`]).
    NeedIdentity,
}

/// What a process looks like from outside, for the fallback.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Identity {
    /// Target of `/proc/PID/exe`, if readable.
    pub exe: Option<Vec<u8>>,
    /// Raw `/proc/PID/cmdline`.
    pub cmdline: Vec<u8>,
    /// Caught signals (`SigCgt`).
    pub caught: u64,
}

/// The fallback when the layout cannot tell (randomization off, layout hidden). A heuristic:
/// - a different executable means an exec;
/// - the same executable and command line means a copy (a pre-fork worker);
/// - the same executable with another command line is either a worker that renamed itself or
///   an exec of the same program with other arguments. Exec resets every caught handler, so a
///   child that still catches exactly its parent's (non-empty) set is taken as a copy.
pub(super) fn by_identity(child: &Identity, parent: &Identity, age_ms: u64, equal_seen: u32) -> ExecState {
    if let (Some(c), Some(p)) = (&child.exe, &parent.exe) {
        if c != p {
            return ExecState::Execd;
        }
    }
    let copy_like = child.cmdline == parent.cmdline || (parent.caught != 0 && child.caught == parent.caught);
    if !copy_like {
        return ExecState::Execd;
    }
    if age_ms >= YOUNG_MS || equal_seen >= 2 { ExecState::NotExecd } else { ExecState::Unknown }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::read::{Buf, ProcDir};

    const PARENT: Layout =
        Layout { start_code: 0x5555_0000_0000, start_stack: 0x7ffd_0000_1000, arg_start: 0x7ffd_0000_2000 };

    #[test]
    fn a_copy_is_not_execd_once_old_enough_or_seen_twice() {
        assert_eq!(by_layout(PARENT, PARENT, true, 5, 1), Verdict::Decided(ExecState::Unknown));
        assert_eq!(by_layout(PARENT, PARENT, true, 5, 2), Verdict::Decided(ExecState::NotExecd));
        assert_eq!(by_layout(PARENT, PARENT, true, 150, 1), Verdict::Decided(ExecState::NotExecd));
        // A renamed worker (arg_start moved by PR_SET_MM) is still a copy.
        let renamed = Layout { arg_start: 0x1234, ..PARENT };
        assert_eq!(by_layout(renamed, PARENT, true, 150, 1), Verdict::Decided(ExecState::NotExecd));
    }

    #[test]
    fn a_new_address_space_is_an_exec_even_when_young() {
        let fresh = Layout { start_stack: 0x7ffe_1234_0000, ..PARENT };
        assert_eq!(by_layout(fresh, PARENT, true, 1, 1), Verdict::Decided(ExecState::Execd));
        assert_eq!(by_layout(fresh, PARENT, false, 1, 1), Verdict::Decided(ExecState::Execd));
    }

    #[test]
    fn without_randomization_or_permission_the_layout_cannot_tell() {
        assert_eq!(by_layout(PARENT, PARENT, false, 500, 3), Verdict::NeedIdentity);
        let hidden = Layout { start_code: 1, start_stack: 0, arg_start: 0 };
        assert_eq!(by_layout(hidden, PARENT, true, 500, 3), Verdict::NeedIdentity);
    }

    #[test]
    fn identity_fallback() {
        let parent = Identity {
            exe: Some(b"/usr/bin/python3.11".to_vec()),
            cmdline: b"python3\0srv.py\0".to_vec(),
            caught: 1 << 14,
        };
        let worker = Identity { cmdline: b"srv: worker 1\0".to_vec(), ..parent.clone() };
        assert_eq!(by_identity(&worker, &parent, 500, 1), ExecState::NotExecd);
        assert_eq!(by_identity(&parent.clone(), &parent, 500, 1), ExecState::NotExecd);
        let other = Identity { exe: Some(b"/usr/bin/sleep".to_vec()), cmdline: b"sleep\0".to_vec(), caught: 0 };
        assert_eq!(by_identity(&other, &parent, 1, 1), ExecState::Execd);
        let same_prog_new_args = Identity { cmdline: b"python3\0other.py\0".to_vec(), caught: 0, ..parent.clone() };
        assert_eq!(by_identity(&same_prog_new_args, &parent, 500, 1), ExecState::Execd);
    }

    /// On real processes: this test process and an exec'd child have different layouts; this
    /// process compared with itself is "a copy".
    #[test]
    fn real_layouts_of_proc_self_and_an_execd_child() {
        let mut buf = Buf::new();
        let me = ProcDir::open(std::process::id()).unwrap().stat(&mut buf).unwrap();
        assert!(me.layout.is_known());
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let dir = ProcDir::open(child.id()).unwrap();
        // Until its exec the child is our copy; wait for the exec to be over (comm becomes
        // "sleep" before the new address space is filled in: its layout reads 0 meanwhile).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let theirs = loop {
            let s = dir.stat(&mut buf).unwrap();
            if (s.comm == "sleep" && s.layout.is_known()) || std::time::Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(theirs.comm, "sleep");
        assert_eq!(by_layout(theirs.layout, me.layout, true, 1, 1), Verdict::Decided(ExecState::Execd));
        assert_eq!(by_layout(me.layout, me.layout, true, 1_000, 1), Verdict::Decided(ExecState::NotExecd));
    }
}
