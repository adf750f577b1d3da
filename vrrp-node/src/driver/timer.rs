//! The driver's wake-up for the state machine's next deadline, on a timerfd.
//!
//! tokio's timers round every deadline up to the next millisecond tick of its timer wheel,
//! so a Master_Down_Interval expired up to a millisecond (more under load) after its time,
//! later than keepalived, whose scheduler sleeps on a timerfd. A timerfd on
//! `CLOCK_MONOTONIC` (the clock of [`std::time::Instant`]) wakes within microseconds and
//! never early. Where no timerfd can be made, tokio's timer stands in.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tracing::warn;

use crate::net::sys::{register, OwnsFd};

/// One timer, re-armed for each wait.
#[derive(Debug)]
pub struct DeadlineTimer {
    fd: Option<AsyncFd<Timer>>,
}

/// A timerfd as tokio's reactor takes it (`AsRawFd`; nix's type offers `AsFd`).
#[derive(Debug)]
struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl DeadlineTimer {
    /// A timerfd-backed timer, or tokio's timer (with a warning) when none can be made.
    pub fn new() -> Self {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)
        .and_then(|t| register(Timer(t), Interest::READABLE));
        match fd {
            Ok(fd) => DeadlineTimer { fd: Some(fd) },
            Err(e) => {
                warn!("no timerfd ({e}): timers fall back to tokio's millisecond ticks");
                DeadlineTimer { fd: None }
            }
        }
    }

    /// Completes at `deadline` (at once when it has passed; never for `None`).
    ///
    /// Cancel-safe: a wait dropped before it fired leaves nothing behind, since the next
    /// call re-arms the timer, and re-arming clears an expiry nobody read.
    pub async fn sleep_until(&mut self, deadline: Option<Instant>) {
        let Some(at) = deadline else {
            return std::future::pending().await;
        };
        let Some(fd) = self.fd.as_ref() else {
            return tokio::time::sleep_until(at.into()).await;
        };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        // Relative from now: the kernel adds it to the clock when it arms, so the timer can
        // only fire late by the few nanoseconds between the two reads, never early.
        // (An all-zero time would disarm the timer; `left` is not zero here.)
        let armed = fd
            .get_ref()
            .0
            .set(
                Expiration::OneShot(TimeSpec::from_duration(left)),
                TimerSetTimeFlags::empty(),
            )
            .map_err(io::Error::from);
        if let Err(e) = armed {
            warn!("arming the timerfd: {e}; waiting on tokio's timer");
            return tokio::time::sleep_until(at.into()).await;
        }
        loop {
            let Ok(mut ready) = fd.readable().await else {
                return tokio::time::sleep_until(at.into()).await;
            };
            // Reading the expiry count clears it; a stale readiness reads EAGAIN and waits on.
            match ready.try_io(|t| t.get_ref().0.wait().map_err(io::Error::from)) {
                Ok(Ok(())) => {
                    // One read takes every expiry of a one-shot timer, and nothing expires
                    // again before the next arming: the readiness goes now, not through a
                    // second read that would find EAGAIN at the start of the next wait (one
                    // system call per wake-up of five; keepalived makes four).
                    ready.clear_ready();
                    return;
                }
                Ok(Err(e)) => {
                    warn!("reading the timerfd: {e}; waiting on tokio's timer");
                    return tokio::time::sleep_until(at.into()).await;
                }
                Err(_would_block) => continue,
            }
        }
    }
}

// SAFETY: `Timer` owns the timerfd (nix's `TimerFd` holds an `OwnedFd`) and never replaces
// it; it is closed when the `Timer` is dropped.
#[allow(unsafe_code)]
unsafe impl OwnsFd for Timer {}

impl Default for DeadlineTimer {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn wakes_at_the_deadline_never_before() {
        let mut timer = DeadlineTimer::new();
        assert!(timer.fd.is_some(), "this kernel has timerfd");
        for micros in [300u64, 1_500, 2_250] {
            let at = Instant::now() + Duration::from_micros(micros);
            timer.sleep_until(Some(at)).await;
            // Precision is measured by scripts/bench-failover.sh (reaction_ms), not here.
            assert!(Instant::now() >= at, "woke before the deadline");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_cancelled_wait_does_not_fire_the_next_one_early() {
        let mut timer = DeadlineTimer::new();
        let soon = Instant::now() + Duration::from_millis(1);
        // Armed, then dropped unfinished; it expires unread while nobody waits.
        let _ =
            tokio::time::timeout(Duration::from_micros(100), timer.sleep_until(Some(soon))).await;
        std::thread::sleep(Duration::from_millis(3));
        let later = Instant::now() + Duration::from_millis(20);
        timer.sleep_until(Some(later)).await;
        assert!(Instant::now() >= later, "a stale expiry ended the new wait");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_fired_wait_leaves_no_readiness_for_the_next() {
        let mut timer = DeadlineTimer::new();
        timer
            .sleep_until(Some(Instant::now() + Duration::from_micros(200)))
            .await;
        // The readiness of the expiry just read is gone: the next wait is a whole one.
        let later = Instant::now() + Duration::from_millis(20);
        timer.sleep_until(Some(later)).await;
        assert!(
            Instant::now() >= later,
            "the last expiry's readiness ended the new wait"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_past_deadline_returns_at_once() {
        let mut timer = DeadlineTimer::new();
        let past = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        tokio::time::timeout(Duration::from_secs(1), timer.sleep_until(Some(past)))
            .await
            .expect("no wait for a deadline that has passed");
    }
}
