//! A reusable deadline for the request path.

use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{CopyError, BUF};

/// A reusable, lazily re-armed timer for the hot path.
///
/// Each operation only records its own deadline (one clock read). The timer entry is moved
/// in the timer wheel only when it fires before the current operation's deadline (at most
/// once per timeout period) or when it is armed later than needed; a fresh timer per read
/// and write would cost a wheel insertion and removal every time.
#[derive(Debug)]
pub struct Deadline {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// The deadline of the operation in progress.
    due: tokio::time::Instant,
}

impl Default for Deadline {
    fn default() -> Self {
        let far = tokio::time::Instant::now() + Duration::from_secs(86400 * 365);
        Deadline {
            sleep: Box::pin(tokio::time::sleep_until(far)),
            due: far,
        }
    }
}

impl Deadline {
    /// Runs `fut` with an optional time limit (`None` = no limit), like [`within`].
    pub async fn run<F: Future>(&mut self, limit: Option<Duration>, fut: F) -> Option<F::Output> {
        let Some(d) = limit else {
            return Some(fut.await);
        };
        // Most writes (and some reads) complete at once: no clock read at all for them.
        let mut fut = std::pin::pin!(fut);
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(r) = first {
            return Some(r);
        }
        self.due = tokio::time::Instant::now() + d;
        if self.sleep.deadline() > self.due {
            // Armed too late for this operation: pull it in.
            self.sleep.as_mut().reset(self.due);
        }
        loop {
            tokio::select! {
                biased;
                r = &mut fut => return Some(r),
                _ = self.sleep.as_mut() => {
                    if tokio::time::Instant::now() >= self.due {
                        return None;
                    }
                    // Fired for an earlier operation's deadline: move on to ours.
                    self.sleep.as_mut().reset(self.due);
                }
            }
        }
    }

    /// [`super::fill`] under this deadline.
    pub async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        src: &mut R,
        buf: &mut BytesMut,
        rto: Option<Duration>,
    ) -> Result<usize, CopyError> {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(BUF);
        }
        match self.run(rto, src.read_buf(buf)).await {
            None => Err(CopyError::ReadTimeout),
            Some(Err(e)) => Err(CopyError::Read(e)),
            Some(Ok(n)) => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lazy_deadline_is_exact_enough() {
        let mut dl = Deadline::default();
        let ms = Duration::from_millis;
        // Completes in time.
        assert_eq!(dl.run(Some(ms(200)), async { 1 }).await, Some(1));
        assert_eq!(
            dl.run(Some(ms(200)), tokio::time::sleep(ms(50))).await,
            Some(())
        );
        // A later operation is not cut short by the earlier deadline still armed...
        let t0 = std::time::Instant::now();
        assert_eq!(
            dl.run(Some(ms(300)), tokio::time::sleep(ms(250))).await,
            Some(())
        );
        assert!(t0.elapsed() >= ms(250));
        // ...and times out at its own deadline, not later.
        let t0 = std::time::Instant::now();
        assert_eq!(
            dl.run(Some(ms(100)), tokio::time::sleep(ms(5000))).await,
            None
        );
        let e = t0.elapsed();
        assert!(e >= ms(100) && e < ms(2000), "{e:?}");
        // A shorter limit after a longer one pulls the timer in.
        let _ = dl.run(Some(ms(10_000)), tokio::time::sleep(ms(10))).await;
        let t0 = std::time::Instant::now();
        assert_eq!(
            dl.run(Some(ms(50)), tokio::time::sleep(ms(5000))).await,
            None
        );
        assert!(t0.elapsed() < ms(2000));
    }
}
