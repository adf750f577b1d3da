//! Read buffers reused instead of freed: an idle connection gives its buffers back (it
//! should cost its socket and its task, not 16 KiB a direction), and the next request on
//! any connection of the thread takes one, without a trip through the allocator (HAProxy
//! keeps its buffers in pools for the same reason).

use std::cell::RefCell;

use bytes::BytesMut;

use super::BUF;

/// Free buffers kept per thread; beyond this they go back to the allocator.
const KEEP: usize = 512;

thread_local! {
    static FREE: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for [`BUF`] bytes.
pub fn take() -> BytesMut {
    FREE.with(|f| f.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(BUF))
}

/// Gives an empty buffer's memory back for reuse (a buffer holding bytes is kept by its
/// owner: it is never given back while it has data).
pub fn give(b: &mut BytesMut) {
    // Buffers that shrank (split) or grew (a long stream) are not worth keeping.
    if !b.is_empty() || b.capacity() < BUF / 2 || b.capacity() > 4 * BUF {
        if b.is_empty() {
            *b = BytesMut::new();
        }
        return;
    }
    let b = std::mem::take(b);
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

    #[test]
    fn buffers_come_back() {
        let mut b = take();
        assert!(b.capacity() >= BUF);
        let ptr = b.as_ptr();
        give(&mut b);
        assert_eq!(b.capacity(), 0, "the owner holds nothing any more");
        let again = take();
        assert_eq!(again.as_ptr(), ptr, "the same memory is reused");
        let mut full = BytesMut::from(&b"data"[..]);
        give(&mut full);
        assert_eq!(
            &full[..],
            b"data",
            "a buffer with bytes stays with its owner"
        );
    }
}
