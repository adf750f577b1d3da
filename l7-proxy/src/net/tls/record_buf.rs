//! A buffer of TLS record bytes for [`super::server_stream`]: taken from the thread's pool
//! when bytes arrive or are encrypted, given back when the last is consumed, so a
//! connection between messages holds none. Its bytes are initialized once, when the
//! buffer is made (rustls reads and writes `&mut [u8]`), and reused from then on.

use std::cell::RefCell;

/// rustls' largest record on the wire: 2^14 bytes of plaintext, 2,048 of expansion
/// (RFC 5246 §6.2.3) and the 5-byte header.
pub const SIZE: usize = 16 * 1024 + 2048 + 5;

/// rustls joins a handshake message of up to 64 KiB across records in place (a long
/// client certificate chain): the buffer may grow that far, and no further.
const MAX: usize = 64 * 1024 + SIZE;

/// Free buffers kept per thread (what a busy thread has in flight at once).
const KEEP: usize = 16;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Bytes `buf[start..end]`, in a buffer from the pool or none.
#[derive(Debug, Default)]
pub struct RecordBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl RecordBuf {
    /// Bytes held.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// No bytes held.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether a buffer is held (an idle connection holds none).
    #[cfg(test)]
    pub fn is_allocated(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The bytes held.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Drops the first `n` bytes held.
    pub fn discard(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Counts `n` bytes written into the room after the data.
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The room after the data, at least `need` bytes of it.
    pub fn room(&mut self, need: usize) -> &mut [u8] {
        self.take();
        if self.buf.len() - self.end < need {
            self.compact();
            if self.buf.len() - self.end < need {
                self.buf.resize(self.end + need, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// The room for a socket read: the data moved to the front when little room is left,
    /// the buffer grown when it is full of one unfinished handshake message.
    pub fn read_room(&mut self) -> Result<&mut [u8], &'static str> {
        self.take();
        if self.buf.len() - self.end < SIZE / 4 && self.start > 0 {
            self.compact();
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX {
                return Err("handshake message longer than 64 KiB");
            }
            self.buf.resize((self.buf.len() * 2).min(MAX), 0);
        }
        Ok(&mut self.buf[self.end..])
    }

    /// Whether a whole record is held (its header says how long it is).
    pub fn holds_a_record(&self) -> bool {
        let data = &self.buf[self.start..self.end];
        data.len() >= 5 && data.len() >= 5 + usize::from(u16::from_be_bytes([data[3], data[4]]))
    }

    /// Gives the buffer back to the pool if it holds no bytes.
    pub fn release_if_empty(&mut self) {
        if self.is_empty() && !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            // A buffer grown for a long message is not worth keeping.
            if buf.len() == SIZE {
                FREE.with(|f| {
                    let mut f = f.borrow_mut();
                    if f.len() < KEEP {
                        f.push(buf);
                    }
                });
            }
        }
    }

    fn take(&mut self) {
        if self.buf.is_empty() {
            self.buf = FREE
                .with(|f| f.borrow_mut().pop())
                .unwrap_or_else(|| vec![0; SIZE]);
            self.start = 0;
            self.end = 0;
        }
    }

    fn compact(&mut self) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_held_only_while_it_holds_bytes() {
        let mut b = RecordBuf::default();
        assert!(!b.is_allocated());
        b.room(0)[..3].copy_from_slice(b"abc");
        b.filled(3);
        assert_eq!(b.data_mut(), b"abc");
        b.release_if_empty();
        assert!(b.is_allocated(), "kept while it holds bytes");
        b.discard(3);
        b.release_if_empty();
        assert!(!b.is_allocated());
        // The next use takes the pooled buffer back.
        assert_eq!(b.room(0).len(), SIZE);
    }

    #[test]
    fn room_asked_for_is_made_by_compacting_then_growing() {
        let mut b = RecordBuf::default();
        let n = b.room(0).len();
        b.filled(n);
        b.discard(n - 10);
        assert_eq!(
            b.room(100).len(),
            SIZE - 10,
            "compacted: the 10 bytes moved to the front"
        );
        assert_eq!(b.len(), 10);
        assert!(b.room(2 * SIZE).len() >= 2 * SIZE, "grown");
    }

    #[test]
    fn a_full_buffer_grows_for_a_long_handshake_message_up_to_its_limit() {
        let mut b = RecordBuf::default();
        let mut reads = 0;
        loop {
            match b.read_room() {
                Ok(room) => {
                    let n = room.len();
                    b.filled(n);
                    reads += 1;
                }
                Err(e) => {
                    assert!(e.contains("64 KiB"));
                    break;
                }
            }
            assert!(reads < 10, "the buffer grows without bound");
        }
        assert_eq!(b.len(), MAX);
    }

    #[test]
    fn a_record_is_whole_once_its_header_length_is_held() {
        let mut b = RecordBuf::default();
        b.room(0)[..5].copy_from_slice(&[23, 3, 3, 0, 2]);
        b.filled(5);
        assert!(!b.holds_a_record());
        b.filled(1);
        assert!(!b.holds_a_record());
        b.filled(1);
        assert!(b.holds_a_record());
    }
}
