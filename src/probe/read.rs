//! Reading one process or thread from `/proc`.
//!
//! Every process is read through a directory descriptor of `/proc/PID` opened once when the
//! process is first seen: once that process is gone, every read through the descriptor fails
//! (`ESRCH`), even if the pid has been given to a new process since. Files are read with one
//! `openat` + `read` into a reused buffer and parsed by hand: `/proc/PID/stat` is the only file
//! the idle rounds read, and hand parsing it costs a fraction of a generic parser (see
//! `benches/probe.rs`).

use super::exec::Layout;
use crate::signal::SigSet;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use std::io;

/// The fields of `/proc/PID/stat` (or `/proc/PID/task/TID/stat`) the probe uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stat {
    pub pid: u32,
    /// `comm`, the kernel's short name (field 2).
    pub comm: String,
    /// One-letter state (field 3): `R`, `S`, `Z`, …
    pub state: u8,
    pub ppid: u32,
    /// Process group (field 5).
    pub pgrp: u32,
    /// Session id (field 6).
    pub session: u32,
    /// The kernel's `PF_*` flags (field 9).
    pub flags: u32,
    /// User + system CPU time in clock ticks (fields 14 and 15).
    pub cpu_ticks: u64,
    /// Field 20.
    pub num_threads: u32,
    /// Clock ticks since boot (field 22).
    pub start_time: u64,
    /// Resident pages (field 24).
    pub rss_pages: u64,
    /// Fields 26, 28 and 48.
    pub(crate) layout: Layout,
    /// Field 31: signals pending for the thread itself (`SigPnd`: for a process, its main
    /// thread's), not those sent to the whole process (`ShdPnd`, only in `status`).
    pub pending: SigSet,
    /// Field 32: for a process, the blocked mask of its main thread; for a task, its own.
    pub blocked: SigSet,
    /// Field 33 (the same mask as `SigIgn` in `status`).
    pub ignored: SigSet,
    /// Field 34 (the same mask as `SigCgt` in `status`).
    pub caught: SigSet,
}

impl Stat {
    /// Zombie or dead: the process has exited, only its entry is left.
    pub(crate) fn exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Parses one `stat` line. `None` if it is not one.
///
/// The name (field 2) is in parentheses and may itself hold spaces and parentheses: the fields
/// after it start after the *last* `)`.
pub(crate) fn parse_stat(line: &[u8]) -> Option<Stat> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = std::str::from_utf8(line[..open].trim_ascii()).ok()?.parse().ok()?;
    let comm = String::from_utf8_lossy(&line[open + 1..close]).into_owned();
    // Fields from 3 on, so that `f[n - 3]` is field n of the man page.
    let mut f = [0u64; 50];
    let mut state = 0u8;
    let mut count = 0usize;
    for (i, word) in line[close + 1..].split(|&b| b == b' ' || b == b'\n').filter(|w| !w.is_empty()).enumerate() {
        if i == 0 {
            state = *word.first()?;
        } else if i < f.len() {
            f[i] = parse_u64(word)?;
        }
        count = i + 1;
    }
    // Everything up to field 34 (sigcatch) exists on every kernel this runs on; 48 since 3.5.
    if count < 32 {
        return None;
    }
    let field = |n: usize| f[n - 3];
    Some(Stat {
        pid,
        comm,
        state,
        ppid: field(4) as u32,
        pgrp: field(5) as u32,
        session: field(6) as u32,
        flags: field(9) as u32,
        cpu_ticks: field(14) + field(15),
        num_threads: field(20) as u32,
        start_time: field(22),
        rss_pages: field(24),
        layout: Layout {
            start_code: field(26),
            start_stack: field(28),
            arg_start: if count >= 46 { field(48) } else { 0 },
        },
        pending: SigSet(field(31)),
        blocked: SigSet(field(32)),
        ignored: SigSet(field(33)),
        caught: SigSet(field(34)),
    })
}

/// The mask on the line of `status` that starts with `key` (`ShdPnd:`, `SigBlk:`).
pub(crate) fn parse_status_mask(status: &[u8], key: &[u8]) -> Option<SigSet> {
    let line = status.split(|&b| b == b'\n').find(|l| l.starts_with(key))?;
    SigSet::from_hex(std::str::from_utf8(&line[key.len()..]).ok()?)
}

/// The uids of a process (`Uid:` of `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Uids {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
}

/// The `Uid:` line of a `status` file (real, effective, saved, filesystem).
pub(crate) fn parse_uids(status: &[u8]) -> Option<Uids> {
    let line = status.split(|&b| b == b'\n').find(|l| l.starts_with(b"Uid:"))?;
    let mut ids = line[4..].split(u8::is_ascii_whitespace).filter(|w| !w.is_empty()).map(parse_u64);
    let mut next = || ids.next().flatten().and_then(|n| u32::try_from(n).ok());
    Some(Uids { real: next()?, effective: next()?, saved: next()? })
}

/// `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of a `status` file.
pub(crate) fn parse_context_switches(status: &[u8]) -> Option<u64> {
    let field = |key: &[u8]| {
        let line = status.split(|&b| b == b'\n').find(|l| l.starts_with(key))?;
        parse_u64(line[key.len()..].trim_ascii())
    };
    Some(field(b"voluntary_ctxt_switches:")? + field(b"nonvoluntary_ctxt_switches:")?)
}

/// Parses a decimal field; negative numbers (priority, nice) read as 0, which the probe never
/// uses.
fn parse_u64(word: &[u8]) -> Option<u64> {
    if word.first() == Some(&b'-') {
        return Some(0);
    }
    let mut n: u64 = 0;
    for &b in word {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Is this error the process (or thread) being gone?
pub(crate) fn is_gone(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(code) if code == rustix::io::Errno::SRCH.raw_os_error() || code == rustix::io::Errno::NOENT.raw_os_error())
}

/// A reusable read buffer: the probe thread keeps one and passes it to every read.
#[derive(Debug, Default)]
pub struct Buf {
    bytes: Vec<u8>,
}

impl Buf {
    pub fn new() -> Self {
        Buf { bytes: Vec::with_capacity(4096) }
    }
}

/// `/proc/PID`, held open.
#[derive(Debug)]
pub struct ProcDir {
    pub pid: u32,
    fd: OwnedFd,
}

impl ProcDir {
    /// Opens `/proc/PID`. The descriptor refers to this process from now on: if the pid is
    /// recycled after it exits, reads fail instead of reading the newcomer.
    pub fn open(pid: u32) -> io::Result<ProcDir> {
        let path = format!("/proc/{pid}");
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            path.as_str(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ProcDir { pid, fd })
    }

    /// Reads a file under the process directory into `buf`; returns the bytes read.
    fn read_into<'b>(&self, path: &str, buf: &'b mut Buf) -> io::Result<&'b [u8]> {
        let fd = rustix::fs::openat(&self.fd, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
        read_all(fd.as_fd(), &mut buf.bytes)?;
        Ok(&buf.bytes)
    }

    /// `/proc/PID/stat`.
    pub fn stat(&self, buf: &mut Buf) -> io::Result<Stat> {
        let bytes = self.read_into("stat", buf)?;
        parse_stat(bytes).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/PID/stat"))
    }

    /// `ShdPnd` of `/proc/PID/status`: the signals sent to the process as a whole and not yet
    /// taken by any thread (a `kill` lands there; only a thread that does not block a signal
    /// can take it).
    pub(crate) fn shared_pending(&self, buf: &mut Buf) -> io::Result<SigSet> {
        let bytes = self.read_into("status", buf)?;
        parse_status_mask(bytes, b"ShdPnd:")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no ShdPnd in /proc/PID/status"))
    }

    /// How many times the process's main thread was switched out (voluntarily or not) since it
    /// started: unchanged between two reads, it did not run at all in between.
    pub(crate) fn context_switches(&self, buf: &mut Buf) -> io::Result<u64> {
        let bytes = self.read_into("status", buf)?;
        parse_context_switches(bytes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no ctxt_switches in /proc/PID/status"))
    }

    /// `/proc/PID/task/TID/stat`.
    pub(crate) fn task_stat(&self, tid: u32, buf: &mut Buf) -> io::Result<Stat> {
        let path = task_path(tid, "stat");
        let bytes = self.read_into(&path, buf)?;
        parse_stat(bytes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/PID/task/TID/stat"))
    }

    /// The signals this process reads from a signalfd: the `sigmask` of each of its
    /// `anon_inode:[signalfd]` descriptors (`fdinfo`). Such a program blocks them on every thread
    /// by design and takes them from the descriptor. Only the lowest [`SIGNALFD_SCAN`]
    /// descriptors are looked at (a signalfd is made at start-up); needs the same access as
    /// `exe`.
    pub(crate) fn signalfd_signals(&self, buf: &mut Buf) -> io::Result<SigSet> {
        let fd =
            rustix::fs::openat(&self.fd, "fd", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let mut dir = rustix::fs::Dir::new(fd)?;
        let mut fds = Vec::new();
        while let Some(entry) = dir.read() {
            if let Some(n) = entry?.file_name().to_str().ok().and_then(|s| s.parse::<u32>().ok()) {
                fds.push(n);
            }
        }
        fds.sort_unstable();
        let mut set = SigSet::EMPTY;
        for n in fds.into_iter().take(SIGNALFD_SCAN) {
            let Ok(link) = rustix::fs::readlinkat(&self.fd, format!("fd/{n}").as_str(), Vec::new()) else { continue };
            if link.as_bytes() != b"anon_inode:[signalfd]" {
                continue;
            }
            if let Some(mask) =
                self.read_into(&format!("fdinfo/{n}"), buf).ok().and_then(|b| parse_status_mask(b, b"sigmask:"))
            {
                set = SigSet(set.0 | mask.0);
            }
        }
        Ok(set)
    }

    /// Thread ids from `/proc/PID/task`, ascending.
    pub fn tids(&self) -> io::Result<Vec<u32>> {
        let fd =
            rustix::fs::openat(&self.fd, "task", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let mut dir = rustix::fs::Dir::new(fd)?;
        let mut tids = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            if let Some(tid) = entry.file_name().to_str().ok().and_then(|s| s.parse::<u32>().ok()) {
                tids.push(tid);
            }
        }
        tids.sort_unstable();
        Ok(tids)
    }

    /// The process's owner: the uid that owns `/proc/PID` (its effective uid, unless it made
    /// itself undumpable).
    pub(crate) fn owner_uid(&self) -> io::Result<u32> {
        Ok(rustix::fs::fstat(&self.fd)?.st_uid)
    }

    /// The `Uid:` line of `/proc/PID/status`: real, effective and saved uid.
    pub(crate) fn uids(&self, buf: &mut Buf) -> io::Result<Uids> {
        let bytes = self.read_into("status", buf)?;
        parse_uids(bytes).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Uid in /proc/PID/status"))
    }

    /// `/proc/PID/status`, raw.
    pub(crate) fn status(&self, buf: &mut Buf) -> io::Result<Vec<u8>> {
        Ok(self.read_into("status", buf)?.to_vec())
    }

    /// `/proc/PID/environ`, raw (NUL-separated; needs ptrace-read permission).
    pub(crate) fn environ(&self, buf: &mut Buf) -> io::Result<Vec<u8>> {
        Ok(self.read_into("environ", buf)?.to_vec())
    }

    /// `/proc/PID/exe` (needs ptrace-read permission on the process).
    pub(crate) fn exe(&self) -> io::Result<Vec<u8>> {
        Ok(rustix::fs::readlinkat(&self.fd, "exe", Vec::new())?.into_bytes())
    }

    /// `/proc/PID/cmdline`, raw (NUL-separated).
    pub(crate) fn cmdline(&self, buf: &mut Buf) -> io::Result<Vec<u8>> {
        Ok(self.read_into("cmdline", buf)?.to_vec())
    }

    /// `/proc/PID/personality` (hexadecimal; needs ptrace-read permission).
    pub(crate) fn personality(&self, buf: &mut Buf) -> io::Result<u32> {
        let bytes = self.read_into("personality", buf)?;
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| u32::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc/PID/personality"))
    }
}

/// How many of a process's descriptors [`ProcDir::signalfd_signals`] looks at.
pub(crate) const SIGNALFD_SCAN: usize = 1024;

/// `ADDR_NO_RANDOMIZE` of `personality(2)`: this process's address space is not randomized.
pub(crate) const ADDR_NO_RANDOMIZE: u32 = 0x0004_0000;

fn task_path(tid: u32, file: &str) -> String {
    format!("task/{tid}/{file}")
}

/// Reads a whole (small) file into `bytes`.
fn read_all(fd: rustix::fd::BorrowedFd<'_>, bytes: &mut Vec<u8>) -> io::Result<()> {
    bytes.clear();
    if bytes.capacity() < 1024 {
        bytes.reserve(1024);
    }
    loop {
        let len = bytes.len();
        if bytes.capacity() == len {
            bytes.reserve(len);
        }
        let cap = bytes.capacity();
        bytes.resize(cap, 0);
        match rustix::io::retry_on_intr(|| rustix::io::read(fd, &mut bytes[len..])) {
            Ok(0) => {
                bytes.truncate(len);
                return Ok(());
            }
            Ok(n) => bytes.truncate(len + n),
            Err(e) => {
                bytes.truncate(len);
                return Err(e.into());
            }
        }
    }
}

/// Reads a small file by absolute path (`/proc/sys/...`).
pub(crate) fn read_small(path: &str) -> io::Result<Vec<u8>> {
    let fd = rustix::fs::openat(rustix::fs::CWD, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut bytes = Vec::new();
    read_all(fd.as_fd(), &mut bytes)?;
    Ok(bytes)
}

/// Is address-space layout randomization on system-wide (`/proc/sys/kernel/randomize_va_space`
/// not 0)? Unknown counts as on: every mainstream kernel ships with it.
pub(crate) fn aslr_enabled() -> bool {
    read_small("/proc/sys/kernel/randomize_va_space").map_or(true, |b| b.trim_ascii() != b"0")
}

/// `/proc/sys/kernel/pid_max`, where pid numbers wrap (the default of 64-bit kernels if it
/// cannot be read).
pub(crate) fn pid_max() -> u32 {
    read_small("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|b| std::str::from_utf8(b.trim_ascii()).ok()?.parse().ok())
        .unwrap_or(4_194_304)
}

/// Clocks and units of `/proc`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Units {
    /// `sysconf(_SC_CLK_TCK)`: stat's times are in these.
    pub ticks_per_sec: u64,
    pub page_kib: u64,
}

impl Units {
    pub(crate) fn get() -> Units {
        Units {
            ticks_per_sec: rustix::param::clock_ticks_per_second().max(1),
            page_kib: (rustix::param::page_size() as u64 / 1024).max(1),
        }
    }

    /// Now, in clock ticks since boot (the clock of stat's `starttime`).
    pub(crate) fn now_ticks(self) -> u64 {
        self.ns_to_ticks(boottime_ns())
    }

    pub(crate) fn ns_to_ticks(self, ns: u64) -> u64 {
        (u128::from(ns) * u128::from(self.ticks_per_sec) / 1_000_000_000) as u64
    }

    pub(crate) fn ticks_to_ms(self, ticks: u64) -> u64 {
        ticks.saturating_mul(1000) / self.ticks_per_sec
    }
}

/// `CLOCK_BOOTTIME` in nanoseconds.
pub(crate) fn boottime_ns() -> u64 {
    timespec_ns(rustix::time::clock_gettime(rustix::time::ClockId::Boottime))
}

/// `CLOCK_MONOTONIC` in nanoseconds (the clock of the kernel connector's timestamps).
pub(crate) fn monotonic_ns() -> u64 {
    timespec_ns(rustix::time::clock_gettime(rustix::time::ClockId::Monotonic))
}

fn timespec_ns(ts: rustix::time::Timespec) -> u64 {
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_name_with_spaces_and_parentheses() {
        let line = b"4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 3 0 123456 1000 250 18446744073709551615 94000000 94100000 140730000000000 0 0 0 16386 4096 17410 0 0 0 17 1 0 0 0 0 0 94200000 94300000 94400000 140730000001000 140730000001100 140730000001100 140730000002000 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "we (ird) name");
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.cpu_ticks, 10);
        assert_eq!(s.num_threads, 3);
        assert_eq!(s.start_time, 123_456);
        assert_eq!(s.rss_pages, 250);
        assert_eq!(
            s.layout,
            Layout { start_code: 94_000_000, start_stack: 140_730_000_000_000, arg_start: 140_730_000_001_000 }
        );
        assert_eq!(s.pending, SigSet(0));
        assert_eq!(s.blocked, SigSet(16386));
        assert_eq!(s.ignored, SigSet(4096));
        assert_eq!(s.caught, SigSet(17410));
    }

    #[test]
    fn reads_the_shared_pending_set_of_status() {
        let status = b"Name:\tpython3\nSigQ:\t1/63499\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000004000\nSigBlk:\t0000000000004000\n";
        assert_eq!(parse_status_mask(status, b"ShdPnd:"), Some(SigSet(1 << 14)));
        assert_eq!(parse_status_mask(status, b"SigPnd:"), Some(SigSet::EMPTY));
        assert_eq!(parse_status_mask(b"Name:\tx\n", b"ShdPnd:"), None);
        // A signalfd's fdinfo.
        let fdinfo = b"pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t1038\nsigmask:\t0000000000004000\n";
        assert_eq!(parse_status_mask(fdinfo, b"sigmask:"), Some(SigSet(1 << 14)));
        // This very process: nothing sent to it is waiting.
        let me = ProcDir::open(std::process::id()).unwrap();
        assert_eq!(me.shared_pending(&mut Buf::new()).unwrap(), SigSet::EMPTY);
    }

    #[test]
    fn counts_context_switches_and_sees_them_grow_while_running() {
        let status = b"Name:\tx\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(parse_context_switches(status), Some(15));
        assert_eq!(parse_context_switches(b"Name:\tx\n"), None);
        // /proc/TID: this thread (the main thread of a test binary only waits).
        let me = ProcDir::open(rustix::thread::gettid().as_raw_nonzero().get() as u32).unwrap();
        let mut buf = Buf::new();
        let before = me.context_switches(&mut buf).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(me.context_switches(&mut buf).unwrap() > before, "a sleep is a voluntary switch");
    }

    #[test]
    fn rejects_what_is_not_a_stat_line() {
        assert!(parse_stat(b"").is_none());
        assert!(parse_stat(b"12 (x) S 1 2 3").is_none());
        assert!(parse_stat(b"no parens at all").is_none());
    }

    /// Our parser and procfs's agree on this very process.
    #[test]
    fn agrees_with_procfs_on_proc_self() {
        let me = ProcDir::open(std::process::id()).unwrap();
        let mut buf = Buf::new();
        let ours = me.stat(&mut buf).unwrap();
        let theirs = procfs::process::Process::myself().unwrap().stat().unwrap();
        assert_eq!(ours.pid, theirs.pid as u32);
        assert_eq!(ours.comm, theirs.comm);
        assert_eq!(ours.ppid, theirs.ppid as u32);
        assert_eq!(ours.pgrp, theirs.pgrp as u32);
        assert_eq!(ours.session, theirs.session as u32);
        assert_eq!(ours.flags, theirs.flags);
        assert_eq!(ours.start_time, theirs.starttime);
        assert_eq!(ours.layout.start_code, theirs.startcode);
        assert_eq!(ours.layout.start_stack, theirs.startstack);
        assert_eq!(Some(ours.layout.arg_start), theirs.arg_start);
        assert_eq!(ours.caught.0, theirs.sigcatch);
        assert_eq!(ours.ignored.0, theirs.sigignore);
        assert!(ours.layout.is_known(), "running as a user who can read its own layout");
        let tids = me.tids().unwrap();
        assert!(tids.contains(&std::process::id()));
        let main = me.task_stat(std::process::id(), &mut buf).unwrap();
        assert_eq!(main.start_time, ours.start_time);
        let process = procfs::process::Process::myself().unwrap();
        let status = process.status().unwrap();
        let uids = me.uids(&mut buf).unwrap();
        assert_eq!((uids.real, uids.effective, uids.saved), (status.ruid, status.euid, status.suid));
        assert_eq!(me.owner_uid().unwrap(), process.uid().unwrap());
        let units = Units::get();
        assert_eq!(units.ticks_per_sec, procfs::ticks_per_second());
        assert_eq!(units.page_kib, procfs::page_size() / 1024);
    }

    #[test]
    fn a_gone_process_reads_as_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dir = ProcDir::open(child.id()).unwrap();
        child.wait().unwrap();
        let err = dir.stat(&mut Buf::new()).unwrap_err();
        assert!(is_gone(&err), "{err}");
    }
}
