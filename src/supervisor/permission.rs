//! May we signal a process, and if not, whose is it: what the operator is told when the kernel
//! would refuse (a process under `watch` that belongs to another user).

use crate::probe::read::{Buf, ProcDir};

/// `name (uid N)` from `/etc/passwd`, or `uid N` when the name cannot be found.
pub(crate) fn describe_uid(uid: u32) -> String {
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|text| {
        text.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id: u32 = f.nth(1)?.parse().ok()?;
            (id == uid).then(|| name.to_string())
        })
    });
    name.map_or_else(|| format!("uid {uid}"), |n| format!("{n} (uid {uid})"))
}

/// Why a signal to `pid` was refused (`EPERM`), in words: whose the process is and who we are.
pub(crate) fn permission_refused(pid: u32) -> String {
    let me = describe_uid(rustix::process::geteuid().as_raw());
    match ProcDir::open(pid).and_then(|d| d.owner_uid()).ok() {
        Some(owner) if owner != rustix::process::geteuid().as_raw() => format!(
            "permission refused: pid {pid} belongs to {} and gracewatch runs as {me} (run gracewatch as that user, or as root)",
            describe_uid(owner)
        ),
        _ => format!("permission refused for pid {pid} (gracewatch runs as {me})"),
    }
}

/// Would kill(2) let us signal `pid`? (The kernel's rule: we are root, or our real or
/// effective uid is the target's real or saved uid.) `true` when it cannot be told.
pub(crate) fn may_signal(pid: u32) -> bool {
    let euid = rustix::process::geteuid().as_raw();
    let ruid = rustix::process::getuid().as_raw();
    if euid == 0 {
        return true;
    }
    let Ok(uids) = ProcDir::open(pid).and_then(|d| d.uids(&mut Buf::new())) else {
        return true;
    };
    [uids.real, uids.saved].iter().any(|u| *u == euid || *u == ruid)
}
