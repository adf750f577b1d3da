//! Read buffers reused instead of freed: an idle connection gives its buffers back (it
//! should cost its socket and its task, not 16 KiB a direction), and the next request on
//! any connection of the thread takes one, without a trip through the allocator (HAProxy
//! keeps its buffers in pools for the same reason).
//!
//! A burst leaves as many free buffers as it had requests in flight. Once it is over (the
//! parker saw many connections go idle, see [`shrink`]), every thread keeps [`RESERVE`] of
//! them and frees the rest, as HAProxy flushes its pools: 1,000 idle connections left
//! ~20 x 16 KiB behind, a third of what they cost.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;

use super::BUF;

/// Free buffers kept per thread; beyond this they go back to the allocator.
const KEEP: usize = 512;

/// Free buffers a thread keeps after a burst.
const RESERVE: usize = 4;

/// Bumped by [`shrink`]; each thread's pool shrinks once per new value.
static SHRINKS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static FREE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    /// The value of [`SHRINKS`] this thread's pool last shrank for.
    static SHRUNK: Cell<u64> = const { Cell::new(0) };
}

/// Asks every thread's pool to keep only [`RESERVE`] free buffers: this thread's at once,
/// the others' at their next use of the pool (a thread that had a burst uses it again when
/// its connections go idle). Called by the parker after a burst of idle connections.
pub fn shrink() {
    SHRINKS.fetch_add(1, Ordering::Relaxed);
    shrink_if_asked();
}

/// Shrinks this thread's pool if [`shrink`] was called since it last did.
fn shrink_if_asked() {
    let asked = SHRINKS.load(Ordering::Relaxed);
    if SHRUNK.with(|s| s.replace(asked)) != asked {
        FREE.with(|f| {
            let mut f = f.borrow_mut();
            f.truncate(RESERVE);
            f.shrink_to(RESERVE);
        });
    }
}

/// Free buffers this thread keeps now.
#[cfg(test)]
pub fn free_len() -> usize {
    FREE.with(|f| f.borrow().len())
}

/// An empty buffer with room for [`BUF`] bytes.
pub fn take() -> BytesMut {
    shrink_if_asked();
    FREE.with(|f| f.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(BUF))
}

/// Gives an empty buffer's memory back for reuse (a buffer holding bytes is kept by its
/// owner: it is never given back while it has data).
pub fn give(b: &mut BytesMut) {
    // A buffer whose bytes were all consumed (`advance`) counts only the room after them as
    // its capacity: its whole memory is reclaimed (no allocation) before it is judged.
    if b.is_empty() && b.capacity() < BUF {
        let _whole = b.try_reclaim(BUF);
    }
    // Buffers that shrank (split) or grew (a long stream) are not worth keeping.
    if !b.is_empty() || b.capacity() < BUF / 2 || b.capacity() > 4 * BUF {
        if b.is_empty() {
            *b = BytesMut::new();
        }
        return;
    }
    let b = std::mem::take(b);
    shrink_if_asked();
    FREE.with(|f| {
        let mut f = f.borrow_mut();
        if f.len() < KEEP {
            f.push(b);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    /// One test for both threads' sides: [`shrink`] is process-wide, and two tests calling
    /// it at once would shrink each other's pools.
    #[test]
    fn after_a_burst_every_thread_keeps_a_reserve() {
        let (filled_tx, filled_rx) = std::sync::mpsc::channel();
        let (shrunk_tx, shrunk_rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            let mut burst: Vec<BytesMut> = (0..12).map(|_| take()).collect();
            for b in &mut burst {
                give(b);
            }
            filled_tx.send(()).expect("main waits");
            shrunk_rx.recv().expect("main shrank");
            // Its next use of the pool shrinks it.
            let b = take();
            (FREE.with(|f| f.borrow().len()), b.capacity())
        });
        let mut burst: Vec<BytesMut> = (0..20).map(|_| take()).collect();
        for b in &mut burst {
            give(b);
        }
        assert_eq!(FREE.with(|f| f.borrow().len()), 20);
        filled_rx.recv().expect("other filled");
        shrink();
        assert_eq!(
            FREE.with(|f| f.borrow().len()),
            RESERVE,
            "this thread's at once"
        );
        shrunk_tx.send(()).expect("other waits");
        let (left, capacity) = other.join().expect("other thread");
        assert_eq!(
            left,
            RESERVE - 1,
            "the other's at its next use, then one taken"
        );
        assert!(capacity >= BUF);
        // Once per request to shrink: the pool grows again with the next burst.
        let mut again: Vec<BytesMut> = (0..10).map(|_| take()).collect();
        for b in &mut again {
            give(b);
        }
        assert_eq!(FREE.with(|f| f.borrow().len()), 10);
    }

    #[test]
    fn buffers_come_back() {
        let mut b = take();
        assert!(b.capacity() >= BUF);
        let ptr = b.as_ptr();
        give(&mut b);
        assert_eq!(b.capacity(), 0, "the owner holds nothing any more");
        let again = take();
        assert_eq!(again.as_ptr(), ptr, "the same memory is reused");
        let mut consumed = take();
        consumed.extend_from_slice(&[1u8; BUF]);
        consumed.advance(BUF);
        let free = FREE.with(|f| f.borrow().len());
        give(&mut consumed);
        assert_eq!(
            FREE.with(|f| f.borrow().len()),
            free + 1,
            "a buffer read to its end is kept"
        );
        assert!(take().capacity() >= BUF, "whole");
        let mut full = BytesMut::from(&b"data"[..]);
        give(&mut full);
        assert_eq!(
            &full[..],
            b"data",
            "a buffer with bytes stays with its owner"
        );
    }
}
