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
/// and write would cost a wheel insertion and removal every time. The timer is allocated
/// by the first operation that has to wait, so a connection holds no timer it does not
/// use.
#[derive(Debug, Default)]
pub struct Deadline {
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
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
        let due = tokio::time::Instant::now() + d;
        std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(r) = fut.as_mut().poll(cx) {
                return std::task::Poll::Ready(Some(r));
            }
            self.poll_due(cx, due).map(|()| None)
        })
        .await
    }

    /// Ready once `due` has passed, on this deadline's timer: for waits written as a poll
    /// function, which keep an idle connection's task small.
    pub fn poll_due(
        &mut self,
        cx: &mut std::task::Context<'_>,
        due: tokio::time::Instant,
    ) -> std::task::Poll<()> {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if sleep.deadline() > due {
            // Armed too late for this operation: pull it in.
            sleep.as_mut().reset(due);
        }
        loop {
            std::task::ready!(sleep.as_mut().poll(cx));
            if tokio::time::Instant::now() >= due {
                return std::task::Poll::Ready(());
            }
            // Fired for an earlier operation's deadline: move on to ours.
            sleep.as_mut().reset(due);
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
