//! Noticing a server's answer while the request body is still being sent: a server may
//! answer (401, 413, a redirect) before reading the whole body, and the client that is
//! slow to send it must get that answer now, not at `timeout client` (RFC 9110 §15,
//! RFC 9112 §9.6; HAProxy relays it too).
//!
//! The body copy holds the server stream mutably, so the watch registers a duplicate of
//! its socket with the reactor: epoll reports readiness for both descriptors of one
//! socket, and reading stays with the stream. Only peeking happens here.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::socket::{recv, MsgFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::Stream;

/// Enough of a status line to tell an interim response: `HTTP/1.1 1`.
const STATUS_PREFIX: usize = 10;

/// Watches a plain-TCP server connection for the start of a final response or a close.
#[derive(Debug)]
pub struct EarlyReply {
    /// A second descriptor of the server socket, registered with the reactor.
    dup: TcpStream,
}

/// What the server did while the body was on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Early {
    /// A final response (status 200 or more) started.
    Answered,
    /// The server closed (or reset) its side.
    Closed,
}

impl EarlyReply {
    /// A watch on `up`; `None` for TLS (records that are no response, such as session
    /// tickets, arrive unasked) or when the socket cannot be duplicated.
    pub fn watch(up: &Stream) -> Option<EarlyReply> {
        let Stream::Tcp(tcp) = up else {
            return None;
        };
        let fd = tcp.as_fd().try_clone_to_owned().ok()?;
        // The duplicate shares the socket's non-blocking flag.
        let dup = TcpStream::from_std(std::net::TcpStream::from(fd)).ok()?;
        Some(EarlyReply { dup })
    }

    /// Waits until the server starts a final response or closes. Interim responses (1xx)
    /// do not count: they are read after the body, as usual.
    pub async fn answered(&self) -> Early {
        loop {
            if self.dup.readable().await.is_err() {
                return Early::Closed;
            }
            let peeked = self.dup.try_io(Interest::READABLE, || {
                let mut head = [0u8; STATUS_PREFIX];
                let n = recv(self.dup.as_raw_fd(), &mut head, MsgFlags::MSG_PEEK)
                    .map_err(io::Error::from)?;
                let interim = n == STATUS_PREFIX && head.starts_with(b"HTTP/1.") && head[9] == b'1';
                if (n > 0 && n < STATUS_PREFIX) || interim {
                    // Too little to judge, or an interim response first (the final one is
                    // read after the body): wait for more bytes.
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            });
            match peeked {
                Ok(0) => return Early::Closed,
                Ok(_) => return Early::Answered,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => return Early::Closed,
            }
        }
    }
}
