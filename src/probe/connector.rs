//! The kernel's process-events connector: exact fork, exec and exit events.
//!
//! A `NETLINK_CONNECTOR` socket bound to the `CN_IDX_PROC` group receives a `proc_event` for
//! every fork, exec and exit on the machine once it has sent `PROC_CN_MCAST_LISTEN`. That needs
//! `CAP_NET_ADMIN` (bind fails with `EPERM` without it) and the initial user and pid namespaces.
//! Elsewhere (a container, a CI runner in a pid namespace) the kernel ignores the subscription
//! but still delivers, to every bound socket, the events other listeners on the machine asked
//! for, with pids of the initial namespace that mean other processes here. So the listener
//! calls itself up only on the kernel's acknowledgement of *its own* subscription (the ack is
//! broadcast too: it is matched by the number it repeats from our request), and reports why not
//! otherwise, and the probe polls `/proc`.
//!
//! The listener runs on its own thread ("gw-connector"), blocked in `poll` on the socket and on
//! a stop pipe, so it costs nothing while nothing forks. Events about processes nobody watches
//! are dropped right there, against a shared set of tracked pids; a fork of a tracked process
//! adds the child to that set at once, so that the child's own forks (even a few microseconds
//! later) are caught too. Everything else goes to the probe thread, the creation and exit of
//! tracked processes' threads included (with their timestamps: see [`super::at_fork`]).
//!
//! Layouts (all native-endian, `linux/netlink.h`, `linux/connector.h`, `linux/cn_proc.h`):
//! `nlmsghdr` (16 bytes) · `cn_msg` (20 bytes: idx, val, seq, ack, len u16, flags u16) ·
//! `proc_event` (what u32, cpu u32, `timestamp_ns` u64, then the event's data).

use rustix::fd::OwnedFd;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, netlink};
use std::collections::HashSet;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;
/// Offset of `proc_event` in a message.
const EVENT_AT: usize = NLMSG_HDRLEN + CN_MSG_LEN;
/// Offset of the event's data in `proc_event`.
const DATA_AT: usize = 16;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

const PROC_CN_MCAST_IGNORE: u32 = 2;

/// How long to wait for the kernel to acknowledge the subscription.
const ACK_WAIT: Duration = Duration::from_secs(1);
/// How long the listener lets events queue up after draining them.
const COALESCE: Duration = Duration::from_millis(20);

/// One event as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProcEvent {
    /// The kernel's answer to a subscription: 0, or an errno. `reply_to` is the answered
    /// request's `ack` plus one, for the connector's broadcast answer (possibly to another
    /// listener); `None` for a netlink error, which is addressed to us alone. (The kernel
    /// overwrites `seq` with its own event counter, so only `ack` identifies the request.)
    Ack {
        err: u32,
        reply_to: Option<u32>,
    },
    /// A new task. A thread has `child_pid != child_tgid` (and its parent is its process's
    /// parent, not the process: the kernel reports the task's `real_parent`).
    Fork {
        parent_pid: u32,
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
        timestamp_ns: u64,
    },
    Exec {
        pid: u32,
        tgid: u32,
    },
    /// A task exited; `exit_code` is the wait status (`code << 8`, or the signal | 0x80 if core).
    /// A thread other than the main one has `pid != tgid`.
    Exit {
        pid: u32,
        tgid: u32,
        exit_code: u32,
        timestamp_ns: u64,
    },
}

/// What the listener passes on to the probe thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KernelEvent {
    /// A tracked process forked a new process (not a thread).
    Fork { parent: u32, child: u32, timestamp_ns: u64 },
    /// A tracked process exec'd.
    Exec { pid: u32 },
    /// A tracked process exited (its main thread; the whole process unless it used
    /// `pthread_exit` in main).
    Exit { pid: u32, status: ExitStatus },
    /// A tracked process started a thread (`born`) or one of its threads other than the main
    /// one exited, at `timestamp_ns` (`CLOCK_MONOTONIC`, as forks): what decides how many
    /// threads it had at the instant of a fork.
    Thread { pid: u32, tid: u32, born: bool, timestamp_ns: u64 },
    /// The socket overflowed: events were lost; re-read the trees.
    Lost,
}

/// How a process ended, decoded from the wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ExitStatus {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub core_dumped: bool,
}

impl ExitStatus {
    pub(super) fn from_wait_status(status: u32) -> ExitStatus {
        let sig = status & 0x7f;
        if sig == 0 {
            ExitStatus { code: Some(((status >> 8) & 0xff) as i32), signal: None, core_dumped: false }
        } else {
            ExitStatus { code: None, signal: Some(sig as i32), core_dumped: status & 0x80 != 0 }
        }
    }
}

/// What the listener tells the probe thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ConnectorMsg {
    /// Subscribed; events flow.
    Up,
    /// Not available (or not any more); the probe polls. The text says why.
    Down(String),
    Event(KernelEvent),
}

/// Parses one datagram (one or more netlink messages) into `out`.
pub(super) fn parse(datagram: &[u8], out: &mut Vec<ProcEvent>) {
    let mut at = 0usize;
    while at + NLMSG_HDRLEN <= datagram.len() {
        let len = u32_at(datagram, at) as usize;
        let kind = u16::from_ne_bytes([datagram[at + 4], datagram[at + 5]]);
        if len < NLMSG_HDRLEN || at + len > datagram.len() {
            return;
        }
        let msg = &datagram[at..at + len];
        if kind == NLMSG_ERROR && msg.len() >= NLMSG_HDRLEN + 4 {
            let err = i32::from_ne_bytes([msg[16], msg[17], msg[18], msg[19]]);
            out.push(ProcEvent::Ack { err: err.unsigned_abs(), reply_to: None });
        } else if kind == NLMSG_DONE
            && msg.len() >= EVENT_AT + DATA_AT
            && u32_at(msg, NLMSG_HDRLEN) == CN_IDX_PROC
            && u32_at(msg, NLMSG_HDRLEN + 4) == CN_VAL_PROC
        {
            let reply_to = u32_at(msg, NLMSG_HDRLEN + 12);
            if let Some(ev) = parse_event(&msg[EVENT_AT..], reply_to) {
                out.push(ev);
            }
        }
        at += (len + 3) & !3;
    }
}

fn parse_event(ev: &[u8], reply_to: u32) -> Option<ProcEvent> {
    let what = u32_at_checked(ev, 0)?;
    let timestamp_ns = u64::from(u32_at_checked(ev, 8)?) | (u64::from(u32_at_checked(ev, 12)?) << 32);
    let d = |i: usize| u32_at_checked(ev, DATA_AT + 4 * i);
    Some(match what {
        PROC_EVENT_NONE => ProcEvent::Ack { err: d(0)?, reply_to: Some(reply_to) },
        PROC_EVENT_FORK => {
            ProcEvent::Fork { parent_pid: d(0)?, parent_tgid: d(1)?, child_pid: d(2)?, child_tgid: d(3)?, timestamp_ns }
        }
        PROC_EVENT_EXEC => ProcEvent::Exec { pid: d(0)?, tgid: d(1)? },
        PROC_EVENT_EXIT => ProcEvent::Exit { pid: d(0)?, tgid: d(1)?, exit_code: d(2)?, timestamp_ns },
        _ => return None,
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32_at_checked(b, at).unwrap_or(0)
}

fn u32_at_checked(b: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_ne_bytes(bytes))
}

/// Our subscription's `ack` number, which the kernel's answer repeats plus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Subscription {
    ack: u32,
}

impl Subscription {
    /// A number no other listener on the machine is likely to have sent (the usual ones send
    /// 0): our pid mixed with the clock's nanoseconds, never 0.
    fn new() -> Subscription {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        Subscription { ack: (std::process::id() << 16) ^ nanos | 1 }
    }

    /// Is this the kernel's answer to this subscription? `Some(Ok)` subscribed, `Some(Err)`
    /// refused with that errno, `None` not an answer to us (another listener's, or an event).
    fn answer(self, ev: &ProcEvent) -> Option<Result<(), u32>> {
        match *ev {
            ProcEvent::Ack { err, reply_to } if reply_to.is_none_or(|r| r == self.ack.wrapping_add(1)) => {
                Some(if err == 0 { Ok(()) } else { Err(err) })
            }
            _ => None,
        }
    }
}

/// A control message: `nlmsghdr` + `cn_msg` + `op` (`PROC_CN_MCAST_LISTEN` or `_IGNORE`).
fn control_message(op: u32, sub: Subscription) -> Vec<u8> {
    let total = (NLMSG_HDRLEN + CN_MSG_LEN + 4) as u32;
    let mut m = Vec::with_capacity(total as usize);
    m.extend_from_slice(&total.to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&sub.ack.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // len
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&op.to_ne_bytes());
    m
}

/// A subscribed connector socket.
pub(super) struct Connector {
    sock: OwnedFd,
    sub: Subscription,
    /// The kernel counts listeners and does the work of every event while any is left; a
    /// subscription it acknowledged is withdrawn on drop.
    subscribed: bool,
}

impl Connector {
    /// Opens, binds and subscribes. Fails with the reason (`EPERM` without `CAP_NET_ADMIN`).
    pub(super) fn open() -> io::Result<Connector> {
        let sock = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            rustix::net::SocketFlags::CLOEXEC,
            Some(netlink::CONNECTOR),
        )?;
        rustix::net::bind(&sock, &netlink::SocketAddrNetlink::new(0, CN_IDX_PROC))?;
        // Room for bursts (a `make -j` next door); the privileged variant ignores rmem_max.
        if rustix::net::sockopt::set_socket_recv_buffer_size_force(&sock, 4 << 20).is_err() {
            let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&sock, 4 << 20);
        }
        let sub = Subscription::new();
        rustix::net::send(&sock, &control_message(PROC_CN_MCAST_LISTEN, sub), SendFlags::empty())?;
        Ok(Connector { sock, sub, subscribed: false })
    }

    /// Receives one datagram into `buf`, parsed into `out`.
    pub(super) fn recv(&self, buf: &mut [u8], out: &mut Vec<ProcEvent>) -> io::Result<()> {
        let (len, _) = rustix::io::retry_on_intr(|| rustix::net::recv(&self.sock, &mut *buf, RecvFlags::DONTWAIT))?;
        parse(&buf[..len], out);
        Ok(())
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if self.subscribed {
            let _ = rustix::net::send(&self.sock, &control_message(PROC_CN_MCAST_IGNORE, self.sub), SendFlags::empty());
        }
    }
}

/// Is this error an overflow of the socket (events were lost)?
fn is_overflow(err: &io::Error) -> bool {
    err.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error())
}

fn is_would_block(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// Runs the listener until `stop` is closed (its write end dropped) or `forward` returns
/// `false`. `tracked` holds the pids whose events matter.
pub(super) fn run(stop: &OwnedFd, tracked: &Arc<Mutex<HashSet<u32>>>, forward: &mut dyn FnMut(ConnectorMsg) -> bool) {
    let mut conn = match Connector::open() {
        Ok(c) => c,
        Err(e) => {
            forward(ConnectorMsg::Down(format!("connector refused: {e}")));
            return;
        }
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut events = Vec::new();
    let started = Instant::now();
    let mut up = false;
    loop {
        let timeout = if up { None } else { Some(ACK_WAIT.saturating_sub(started.elapsed())) };
        if !up && timeout == Some(Duration::ZERO) {
            forward(ConnectorMsg::Down(
                "connector refused: the kernel did not acknowledge the subscription (it answers only in the initial user and pid namespaces, so not inside a container)".to_string(),
            ));
            return;
        }
        let ts = timeout
            .map(|t| rustix::time::Timespec { tv_sec: t.as_secs() as i64, tv_nsec: i64::from(t.subsec_nanos()) });
        let mut fds = [
            rustix::event::PollFd::new(&conn.sock, rustix::event::PollFlags::IN),
            rustix::event::PollFd::new(stop, rustix::event::PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                forward(ConnectorMsg::Down(format!("connector failed: poll: {e}")));
                return;
            }
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        if fds[0].revents().is_empty() {
            continue;
        }
        // Drain everything that is queued.
        loop {
            events.clear();
            match conn.recv(&mut buf, &mut events) {
                Ok(()) => {}
                Err(e) if is_would_block(&e) => break,
                Err(e) if is_overflow(&e) => {
                    if up && !forward(ConnectorMsg::Event(KernelEvent::Lost)) {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    forward(ConnectorMsg::Down(format!("connector failed: {e}")));
                    return;
                }
            }
            for ev in &events {
                if !up {
                    // Until the kernel has answered us, an event may be one another listener
                    // asked for, seen from a namespace where its pids mean something else.
                    match conn.sub.answer(ev) {
                        None => continue,
                        Some(Err(err)) => {
                            let e = io::Error::from_raw_os_error(err as i32);
                            forward(ConnectorMsg::Down(format!("connector refused: {e}")));
                            return;
                        }
                        Some(Ok(())) => {
                            up = true;
                            conn.subscribed = true;
                            if !forward(ConnectorMsg::Up) {
                                return;
                            }
                        }
                    }
                }
                if let Some(k) = relevant(ev, tracked) {
                    if !forward(ConnectorMsg::Event(k)) {
                        return;
                    }
                }
            }
        }
        if up {
            // Every fork, exec and exit on the machine lands here; on a busy machine (a build
            // next door) waking for each one costs more than reading them. Let them queue up
            // a moment and drain them in one go (the socket buffer holds tens of thousands).
            std::thread::sleep(COALESCE);
        }
    }
}

/// Keeps only events about tracked processes; a tracked process's new child becomes tracked
/// here and now.
fn relevant(ev: &ProcEvent, tracked: &Mutex<HashSet<u32>>) -> Option<KernelEvent> {
    match *ev {
        ProcEvent::Ack { .. } => None,
        ProcEvent::Fork { child_pid, child_tgid, timestamp_ns, .. } if child_pid != child_tgid => tracked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&child_tgid)
            .then_some(KernelEvent::Thread { pid: child_tgid, tid: child_pid, born: true, timestamp_ns }),
        ProcEvent::Fork { parent_tgid, child_tgid, timestamp_ns, .. } => {
            let mut set = tracked.lock().unwrap_or_else(PoisonError::into_inner);
            if !set.contains(&parent_tgid) {
                return None;
            }
            set.insert(child_tgid);
            Some(KernelEvent::Fork { parent: parent_tgid, child: child_tgid, timestamp_ns })
        }
        ProcEvent::Exec { tgid, .. } => tracked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&tgid)
            .then_some(KernelEvent::Exec { pid: tgid }),
        ProcEvent::Exit { pid, tgid, exit_code, timestamp_ns } => {
            if !tracked.lock().unwrap_or_else(PoisonError::into_inner).contains(&tgid) {
                None
            } else if pid == tgid {
                Some(KernelEvent::Exit { pid, status: ExitStatus::from_wait_status(exit_code) })
            } else {
                Some(KernelEvent::Thread { pid: tgid, tid: pid, born: false, timestamp_ns })
            }
        }
    }
}

/// The stop pipe: the listener stops when the returned write end is dropped.
pub(super) fn stop_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(what: u32, data: &[u32]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&0u32.to_ne_bytes());
        ev.extend_from_slice(&123_456_789u64.to_ne_bytes());
        for d in data {
            ev.extend_from_slice(&d.to_ne_bytes());
        }
        while ev.len() < 40 {
            ev.push(0);
        }
        let total = (EVENT_AT + ev.len()) as u32;
        let mut m = Vec::new();
        m.extend_from_slice(&total.to_ne_bytes());
        m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        m.extend_from_slice(&[0; 2]);
        m.extend_from_slice(&ev);
        m
    }

    #[test]
    fn parses_fork_exec_exit_and_ack() {
        let mut dgram = message(PROC_EVENT_FORK, &[10, 10, 11, 11]);
        dgram.extend(message(PROC_EVENT_EXEC, &[11, 11]));
        dgram.extend(message(PROC_EVENT_EXIT, &[11, 11, 9, 17, 10, 10]));
        dgram.extend(message(PROC_EVENT_NONE, &[1]));
        let mut out = Vec::new();
        parse(&dgram, &mut out);
        assert_eq!(
            out,
            [
                ProcEvent::Fork {
                    parent_pid: 10,
                    parent_tgid: 10,
                    child_pid: 11,
                    child_tgid: 11,
                    timestamp_ns: 123_456_789
                },
                ProcEvent::Exec { pid: 11, tgid: 11 },
                ProcEvent::Exit { pid: 11, tgid: 11, exit_code: 9, timestamp_ns: 123_456_789 },
                ProcEvent::Ack { err: 1, reply_to: Some(0) },
            ]
        );
        // Truncated input yields what is whole and nothing else.
        let mut out = Vec::new();
        parse(&dgram[..dgram.len() - 3], &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn only_the_answer_to_our_own_subscription_counts() {
        let sub = Subscription { ack: 77 };
        let ack = |err, reply_to| ProcEvent::Ack { err, reply_to };
        assert_eq!(sub.answer(&ack(0, Some(78))), Some(Ok(())));
        assert_eq!(sub.answer(&ack(1, Some(78))), Some(Err(1)));
        // A netlink error is addressed to us alone.
        assert_eq!(sub.answer(&ack(1, None)), Some(Err(1)));
        // The kernel broadcasts its answer to every listener: another's is not ours.
        assert_eq!(sub.answer(&ack(0, Some(1))), None);
        assert_eq!(sub.answer(&ack(0, Some(77))), None);
        // Nor is an event: inside a pid namespace the kernel ignores our subscription but
        // still delivers what others asked for.
        let exec = ProcEvent::Exec { pid: 5, tgid: 5 };
        assert_eq!(sub.answer(&exec), None);
    }

    #[test]
    fn the_kernels_answer_is_parsed_with_the_numbers_it_repeats() {
        // What `cn_proc_ack` sends back for our listen message: ack plus one, and a seq of
        // the kernel's own.
        let sub = Subscription { ack: 41 };
        let mut answer = message(PROC_EVENT_NONE, &[0]);
        answer[NLMSG_HDRLEN + 8..NLMSG_HDRLEN + 12].copy_from_slice(&2_307_320u32.to_ne_bytes());
        answer[NLMSG_HDRLEN + 12..NLMSG_HDRLEN + 16].copy_from_slice(&42u32.to_ne_bytes());
        let mut out = Vec::new();
        parse(&answer, &mut out);
        assert_eq!(out, [ProcEvent::Ack { err: 0, reply_to: Some(42) }]);
        assert_eq!(sub.answer(&out[0]), Some(Ok(())));
        // Our own listen message carries the number where the kernel reads it.
        let listen = control_message(PROC_CN_MCAST_LISTEN, sub);
        assert_eq!(u32_at(&listen, NLMSG_HDRLEN + 12), 41);
        assert_eq!(u32_at(&listen, EVENT_AT), PROC_CN_MCAST_LISTEN);
    }

    #[test]
    fn wait_statuses() {
        assert_eq!(
            ExitStatus::from_wait_status(3 << 8),
            ExitStatus { code: Some(3), signal: None, core_dumped: false }
        );
        assert_eq!(ExitStatus::from_wait_status(0x09), ExitStatus { code: None, signal: Some(9), core_dumped: false });
        assert_eq!(
            ExitStatus::from_wait_status(0x80 | 0x0b),
            ExitStatus { code: None, signal: Some(11), core_dumped: true }
        );
    }

    #[test]
    fn only_tracked_processes_pass_and_their_children_join() {
        let tracked = Mutex::new(HashSet::from([10u32]));
        let fork = |p: u32, c: u32| ProcEvent::Fork {
            parent_pid: p,
            parent_tgid: p,
            child_pid: c,
            child_tgid: c,
            timestamp_ns: 1,
        };
        assert_eq!(
            relevant(&fork(10, 11), &tracked),
            Some(KernelEvent::Fork { parent: 10, child: 11, timestamp_ns: 1 })
        );
        assert_eq!(
            relevant(&fork(11, 12), &tracked),
            Some(KernelEvent::Fork { parent: 11, child: 12, timestamp_ns: 1 })
        );
        assert_eq!(relevant(&fork(99, 100), &tracked), None);
        // A new thread of a tracked process is not a fork. The kernel names its process's parent
        // as its parent (here 11's parent, 10, tracked too: still not a fork of 11).
        let thread =
            ProcEvent::Fork { parent_pid: 10, parent_tgid: 10, child_pid: 13, child_tgid: 11, timestamp_ns: 5 };
        assert_eq!(
            relevant(&thread, &tracked),
            Some(KernelEvent::Thread { pid: 11, tid: 13, born: true, timestamp_ns: 5 })
        );
        let untracked =
            ProcEvent::Fork { parent_pid: 1, parent_tgid: 1, child_pid: 51, child_tgid: 50, timestamp_ns: 5 };
        assert_eq!(relevant(&untracked, &tracked), None);
        assert_eq!(relevant(&ProcEvent::Exec { pid: 12, tgid: 12 }, &tracked), Some(KernelEvent::Exec { pid: 12 }));
        // A thread's exit is not the process's.
        let thread_exit = ProcEvent::Exit { pid: 14, tgid: 10, exit_code: 0, timestamp_ns: 7 };
        assert_eq!(
            relevant(&thread_exit, &tracked),
            Some(KernelEvent::Thread { pid: 10, tid: 14, born: false, timestamp_ns: 7 })
        );
        assert_eq!(relevant(&ProcEvent::Exit { pid: 61, tgid: 60, exit_code: 0, timestamp_ns: 7 }, &tracked), None);
        assert!(
            matches!(relevant(&ProcEvent::Exit { pid: 10, tgid: 10, exit_code: 256, timestamp_ns: 7 }, &tracked), Some(KernelEvent::Exit { pid: 10, status }) if status.code == Some(1))
        );
    }
}
