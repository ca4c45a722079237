//! A condition variable that wakes only when someone waits.
//!
//! `std::sync::Condvar::notify_all` enters the kernel (a futex wake) on every call, waiters or
//! not. The engine signals after every flush, on poison and on close, and with inline background
//! work (no threads) nobody ever waits: a seeded crash run of `powercut-bench` made about 35
//! such system calls per seed. [`Signal`] counts its waiters and skips the wake when there are
//! none.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, MutexGuard, PoisonError};

/// A [`Condvar`] with a count of the threads waiting on it.
///
/// Every waiter must wait with the one mutex whose state the signaller changes, and a signaller
/// must change that state under the mutex (or take the mutex after changing it) before it
/// calls [`Signal::notify_all`]. Then no wake-up is lost: a waiter raises the count while it
/// holds the mutex, before the wait releases it, so a signaller that takes the mutex after that
/// sees the count; a signaller that took it before changed the state before the waiter looked
/// at it, and the waiter does not wait.
#[derive(Debug, Default)]
pub struct Signal {
    cv: Condvar,
    waiters: AtomicUsize,
}

impl Signal {
    pub fn new() -> Signal {
        Signal::default()
    }

    /// Waits for a notification, releasing `guard` meanwhile (as [`Condvar::wait`], including
    /// its spurious wake-ups: callers wait in a loop on their condition).
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        // SeqCst with the load in notify_all: the mutex already orders the two, this keeps the
        // count itself free of any subtler argument.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let guard = self.cv.wait(guard).unwrap_or_else(PoisonError::into_inner);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    /// Wakes every waiter; a no-op, with no system call, when there is none.
    pub fn notify_all(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.cv.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_waiter_is_woken_and_counted_only_while_it_waits() {
        let shared = Arc::new((Mutex::new(false), Signal::new()));
        let waiter = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                let (m, s) = &*shared;
                let mut ready = m.lock().unwrap_or_else(PoisonError::into_inner);
                while !*ready {
                    ready = s.wait(ready);
                }
            })
        };
        // Until the waiter is counted a notification could be skipped; the flag, set under
        // the mutex, is what the waiter checks, so setting it and notifying always ends the wait.
        {
            let (m, s) = &*shared;
            *m.lock().unwrap_or_else(PoisonError::into_inner) = true;
            s.notify_all();
        }
        waiter.join().expect("the waiter finishes");
        assert_eq!(shared.1.waiters.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn many_waiters_all_wake() {
        let shared = Arc::new((Mutex::new(0u32), Signal::new()));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let (m, s) = &*shared;
                    let mut count = m.lock().unwrap_or_else(PoisonError::into_inner);
                    while *count == 0 {
                        count = s.wait(count);
                    }
                })
            })
            .collect();
        // Let them reach the wait (not needed for correctness: the flag decides).
        while shared.1.waiters.load(Ordering::SeqCst) < 4 {
            std::thread::yield_now();
        }
        {
            let (m, s) = &*shared;
            *m.lock().unwrap_or_else(PoisonError::into_inner) = 1;
            s.notify_all();
        }
        for w in waiters {
            w.join().expect("every waiter finishes");
        }
    }
}
