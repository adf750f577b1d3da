//! The traffic counters of a frontend, a backend or a server, as HAProxy keeps them for its
//! statistics: totals, per-second rates with their maximum, and sliding averages of the
//! request timings. Updated with relaxed atomics on the request path; read by the pages.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Milliseconds on a process-wide monotonic clock (1 at the first call; 0 means never).
pub fn now_ms() -> u64 {
    ms_at(Instant::now())
}

/// [`now_ms`] of an instant already read (one clock read less on the request path).
pub fn ms_at(at: Instant) -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let ms = at
        .saturating_duration_since(*START.get_or_init(Instant::now))
        .as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

/// Events per second, as HAProxy's `freq_ctr`: the count of the current second plus the
/// previous second's weighted by the part of it still inside the sliding second.
#[derive(Debug, Default)]
pub struct PerSecond {
    /// Second number (high 32 bits) and the count in it (low 32 bits).
    current: AtomicU64,
    /// The count of the second before `current`'s.
    previous: AtomicU32,
    /// The highest count of a completed second.
    max: AtomicU32,
}

impl PerSecond {
    /// Counts one event at `now` (from [`now_ms`]).
    pub fn add(&self, now: u64) {
        let sec = (now / 1000) & 0xffff_ffff;
        let mut cur = self.current.load(Relaxed);
        loop {
            let (s, n) = (cur >> 32, cur & 0xffff_ffff);
            let next = if s == sec {
                cur + u64::from(n < 0xffff_ffff)
            } else {
                (sec << 32) | 1
            };
            match self
                .current
                .compare_exchange_weak(cur, next, Relaxed, Relaxed)
            {
                Ok(_) => {
                    if s != sec {
                        // A second ended: its count is the previous one, and a candidate
                        // for the maximum (the sliding rate never exceeds the larger of
                        // two consecutive seconds' counts).
                        let ended = u32::try_from(n).unwrap_or(u32::MAX);
                        let carried = if s + 1 == sec { ended } else { 0 };
                        self.previous.store(carried, Relaxed);
                        self.max.fetch_max(ended, Relaxed);
                    }
                    return;
                }
                Err(seen) => cur = seen,
            }
        }
    }

    /// The events of the last second at `now`.
    pub fn rate(&self, now: u64) -> u32 {
        let (sec, into) = ((now / 1000) & 0xffff_ffff, now % 1000);
        let cur = self.current.load(Relaxed);
        let (s, n) = (cur >> 32, cur & 0xffff_ffff);
        let prev = u64::from(self.previous.load(Relaxed));
        let r = if s == sec {
            n + prev * (1000 - into) / 1000
        } else if s + 1 == sec {
            n * (1000 - into) / 1000
        } else {
            0
        };
        u32::try_from(r).unwrap_or(u32::MAX)
    }

    /// The highest count of a second so far, the current one included.
    pub fn max(&self) -> u32 {
        let n = u32::try_from(self.current.load(Relaxed) & 0xffff_ffff).unwrap_or(u32::MAX);
        self.max.load(Relaxed).max(n)
    }
}

/// Samples an [`Average`] spans: HAProxy averages its timings over the last 1024 requests.
const SAMPLES: u64 = 1024;

/// A sliding average of milliseconds over about the last [`SAMPLES`] values (HAProxy's
/// `swrate`; the exact mean until there are that many), with the maximum. Updates are
/// load-then-store: a lost update under a race only nudges an average.
#[derive(Debug, Default)]
pub struct Average {
    sum: AtomicU64,
    count: AtomicU64,
    max: AtomicU64,
}

impl Average {
    /// Adds one value.
    pub fn add(&self, d: Duration) {
        let v = u64::try_from(d.as_millis()).unwrap_or(u64::MAX / SAMPLES);
        let (n, sum) = (self.count.load(Relaxed), self.sum.load(Relaxed));
        if n < SAMPLES {
            // Until there are enough values, the exact mean.
            self.count.store(n + 1, Relaxed);
            self.sum.store(sum.saturating_add(v), Relaxed);
        } else {
            self.sum.store(sum - sum / SAMPLES + v, Relaxed);
        }
        if v > self.max.load(Relaxed) {
            self.max.store(v, Relaxed);
        }
    }

    /// The average in milliseconds (0 before any value).
    pub fn ms(&self) -> u64 {
        match self.count.load(Relaxed) {
            0 => 0,
            n => self.sum.load(Relaxed) / n,
        }
    }

    /// The largest value in milliseconds.
    pub fn max_ms(&self) -> u64 {
        self.max.load(Relaxed)
    }
}

/// Status classes of `hrsp_1xx` .. `hrsp_5xx`, `hrsp_other`.
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The index in [`STATUS_CLASSES`] of a status code.
pub fn status_class(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100 - 1),
        _ => 5,
    }
}

/// The traffic counters HAProxy keeps per frontend, backend and server (the live gauges,
/// such as current sessions, live with the object they describe).
#[derive(Debug, Default)]
pub struct Counters {
    /// Sessions: connections to a frontend, requests or connections given to a backend
    /// and its server (`stot`).
    pub sessions_total: AtomicU64,
    /// Sessions per second.
    pub sessions: PerSecond,
    /// HTTP requests per second.
    pub request_rate: PerSecond,
    /// HTTP requests (`req_tot`).
    pub requests: AtomicU64,
    /// Responses by status class (`hrsp_*`).
    pub responses: [AtomicU64; 6],
    /// Bytes from clients (`bin`).
    pub bytes_in: AtomicU64,
    /// Bytes to clients (`bout`).
    pub bytes_out: AtomicU64,
    /// Requests denied by rules (`dreq`).
    pub denied_req: AtomicU64,
    /// Responses denied by rules (`dresp`).
    pub denied_resp: AtomicU64,
    /// Bad requests from clients (`ereq`).
    pub req_errors: AtomicU64,
    /// Failed connections to servers (`econ`).
    pub conn_errors: AtomicU64,
    /// Bad or missing responses from servers (`eresp`).
    pub resp_errors: AtomicU64,
    /// Connection retries (`wretr`).
    pub retries: AtomicU64,
    /// Retries on another server (`wredis`).
    pub redispatches: AtomicU64,
    /// Transfers the client aborted (`cli_abrt`).
    pub client_aborts: AtomicU64,
    /// Transfers the server aborted (`srv_abrt`).
    pub server_aborts: AtomicU64,
    /// New connections opened to servers (`connect`).
    pub connects: AtomicU64,
    /// Idle server connections reused (`reuse`).
    pub reuses: AtomicU64,
    /// When the last session started ([`now_ms`]; 0: never), for `lastsess`.
    pub last_session: AtomicU64,
    /// Time in queue (`qtime`, `qtime_max`).
    pub queue_time: Average,
    /// Time to connect (`ctime`).
    pub connect_time: Average,
    /// Time to the response head (`rtime`).
    pub response_time: Average,
    /// Total time (`ttime`).
    pub total_time: Average,
    /// Highest concurrent sessions (`smax`).
    pub max_sessions: AtomicU64,
    /// Highest queue length (`qmax`).
    pub max_queued: AtomicU64,
}

/// What one finished HTTP request adds to the counters of the objects it went through.
#[derive(Debug, Clone, Copy, Default)]
pub struct Finished {
    /// The status sent to the client (0: none).
    pub status: u16,
    /// Bytes received from the client.
    pub bytes_in: u64,
    /// Bytes sent to the client.
    pub bytes_out: u64,
    /// `%Tw`, `%Tc`, `%Tr` (`None`: that step did not happen).
    pub queue: Option<Duration>,
    /// Time to connect.
    pub connect: Option<Duration>,
    /// Time to the response head.
    pub response: Option<Duration>,
    /// Total time.
    pub total: Duration,
    /// HAProxy's termination state (`CD`, `SH`, `--`...).
    pub term: [u8; 2],
}

impl Counters {
    /// Counts a session (a connection to a frontend, a request assigned to a server) and
    /// the concurrency it reached.
    pub fn session(&self, now: u64, active: usize) {
        self.sessions_total.fetch_add(1, Relaxed);
        self.sessions.add(now);
        self.last_session.store(now, Relaxed);
        self.max_sessions.fetch_max(active as u64, Relaxed);
    }

    /// Counts a finished request on a frontend: the request, its status and bytes.
    pub fn request(&self, f: &Finished, now: u64) {
        self.request_rate.add(now);
        self.requests.fetch_add(1, Relaxed);
        if f.status != 0 {
            self.responses[status_class(f.status)].fetch_add(1, Relaxed);
        }
        self.bytes(f);
    }

    /// Counts a finished request on a backend or a server: as [`Counters::request`], plus
    /// the timings and how it ended.
    pub fn forwarded(&self, f: &Finished, now: u64) {
        self.request(f, now);
        self.timed(f);
    }

    /// Counts a finished TCP-mode session on a backend or a server: bytes, timings, how
    /// it ended.
    pub fn transferred(&self, f: &Finished) {
        self.bytes(f);
        self.timed(f);
    }

    /// Counts the bytes of a request or session.
    pub fn bytes(&self, f: &Finished) {
        self.bytes_in.fetch_add(f.bytes_in, Relaxed);
        self.bytes_out.fetch_add(f.bytes_out, Relaxed);
    }

    fn timed(&self, f: &Finished) {
        if let Some(q) = f.queue {
            self.queue_time.add(q);
        }
        if let Some(c) = f.connect {
            self.connect_time.add(c);
        }
        if let Some(r) = f.response {
            self.response_time.add(r);
        }
        self.total_time.add(f.total);
        // HAProxy: an abort is a client- or server-side termination once data flowed.
        match f.term {
            [b'C', b'D'] | [b'c', b'D'] => self.client_aborts.fetch_add(1, Relaxed),
            [b'S', b'D'] | [b's', b'D'] => self.server_aborts.fetch_add(1, Relaxed),
            _ => 0,
        };
    }

    /// Responses with a status class, by index in [`STATUS_CLASSES`].
    pub fn responses(&self, class: usize) -> u64 {
        self.responses.get(class).map_or(0, |c| c.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_weighs_the_previous_second_by_what_remains_of_it() {
        let r = PerSecond::default();
        for _ in 0..10 {
            r.add(5_000);
        }
        assert_eq!(r.rate(5_999), 10);
        // Half-way through the next second: half of the 10, plus 4 new.
        for _ in 0..4 {
            r.add(6_500);
        }
        assert_eq!(r.rate(6_500), 4 + 5);
        assert_eq!(r.rate(8_000), 0, "two seconds later nothing remains");
        assert_eq!(r.max(), 10);
    }

    #[test]
    fn an_average_follows_recent_values_and_keeps_the_maximum() {
        let a = Average::default();
        assert_eq!(a.ms(), 0);
        for v in [10, 20, 30] {
            a.add(Duration::from_millis(v));
        }
        assert_eq!(a.ms(), 20);
        for _ in 0..5000 {
            a.add(Duration::from_millis(4));
        }
        assert!((4..=5).contains(&a.ms()), "{}", a.ms());
        assert_eq!(a.max_ms(), 30);
    }

    #[test]
    fn statuses_fall_in_haproxys_classes() {
        assert_eq!(status_class(101), 0);
        assert_eq!(status_class(204), 1);
        assert_eq!(status_class(503), 4);
        assert_eq!(status_class(600), 5);
        assert_eq!(status_class(99), 5);
    }
}
