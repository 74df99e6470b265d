//! The stop handle: fired once, by the cooperative stop message or by a signal, whichever
//! comes first. Poll it, block on it, await it, or register a callback.

use crate::signal::Signal;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// What asked the node to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// gracewatch's stop message, with its reason (`operator`, `ctl`, `signal`, …).
    Message(String),
    /// A signal arrived first.
    Signal(Signal),
}

type Callback = Box<dyn FnOnce(&StopReason) + Send>;

#[derive(Default)]
struct Inner {
    fired: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    cv: Condvar,
    wakers: Mutex<Vec<Waker>>,
    callbacks: Mutex<Vec<Callback>>,
}

#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

impl Stop {
    pub fn is_requested(&self) -> bool {
        self.inner.fired.load(Ordering::Acquire)
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.inner.reason.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Blocks until the stop fires.
    pub fn wait(&self) -> StopReason {
        let mut guard = self.inner.reason.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(r) = guard.as_ref() {
                return r.clone();
            }
            guard = self.inner.cv.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Blocks up to `timeout`; `None` if the stop did not fire.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<StopReason> {
        let guard = self.inner.reason.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) =
            self.inner.cv.wait_timeout_while(guard, timeout, |r| r.is_none()).unwrap_or_else(PoisonError::into_inner);
        guard.clone()
    }

    /// Calls `f` once when the stop fires (at once if it already has), on the thread that
    /// fires it.
    pub fn on_stop(&self, f: impl FnOnce(&StopReason) + Send + 'static) {
        {
            let mut cbs = self.inner.callbacks.lock().unwrap_or_else(PoisonError::into_inner);
            if !self.is_requested() {
                cbs.push(Box::new(f));
                return;
            }
        }
        if let Some(r) = self.reason() {
            f(&r);
        }
    }

    /// A future that completes when the stop fires.
    pub fn requested(&self) -> StopFuture {
        StopFuture { stop: self.clone() }
    }

    /// Fires the stop (the first call wins). Returns whether this call fired it.
    pub(crate) fn trigger(&self, reason: StopReason) -> bool {
        {
            let mut slot = self.inner.reason.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_some() {
                return false;
            }
            *slot = Some(reason);
            self.inner.fired.store(true, Ordering::Release);
        }
        self.inner.cv.notify_all();
        for w in std::mem::take(&mut *self.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner)) {
            w.wake();
        }
        let callbacks = std::mem::take(&mut *self.inner.callbacks.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some(reason) = self.reason() {
            for cb in callbacks {
                cb(&reason);
            }
        }
        true
    }
}

pub struct StopFuture {
    stop: Stop,
}

impl Future for StopFuture {
    type Output = StopReason;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<StopReason> {
        if let Some(r) = self.stop.reason() {
            return Poll::Ready(r);
        }
        self.stop.inner.wakers.lock().unwrap_or_else(PoisonError::into_inner).push(cx.waker().clone());
        // Fired between the check and the registration?
        match self.stop.reason() {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_and_wakes_every_waiter() {
        let stop = Stop::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        stop.on_stop(move |r| s2.lock().unwrap().push(r.clone()));
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || stop.wait())
        };
        assert_eq!(stop.wait_timeout(Duration::from_millis(10)), None);
        assert!(stop.trigger(StopReason::Message("operator".into())));
        assert!(!stop.trigger(StopReason::Signal(Signal::TERM)));
        assert_eq!(waiter.join().unwrap(), StopReason::Message("operator".into()));
        assert_eq!(*seen.lock().unwrap(), vec![StopReason::Message("operator".into())]);
        let late = Arc::new(AtomicBool::new(false));
        let l2 = late.clone();
        stop.on_stop(move |_| l2.store(true, Ordering::SeqCst));
        assert!(late.load(Ordering::SeqCst));
    }
}
