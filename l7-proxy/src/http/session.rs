//! The client side of one exchange, whatever the protocol (pingora's `enum Session { H1,
//! H2 }`): the exchange logic is written once against these operations.

use std::time::Duration;

use bytes::BytesMut;

use super::h1::H1Conn;
use super::h2::H2Stream;
use crate::io::{CopyError, Deadline, Framing, SpliceMode};
use crate::net::Stream;

/// One request's client side.
#[derive(Debug)]
pub enum Session<'a> {
    /// An HTTP/1.1 connection (one request at a time).
    H1(&'a mut H1Conn),
    /// One stream of an HTTP/2 connection.
    H2(&'a mut H2Stream),
}

/// The buffers of the server side of an exchange, reused across the requests of an
/// HTTP/1.1 connection (and dropped while it is idle).
#[derive(Debug, Default)]
pub struct Bufs {
    /// The server side's reusable deadline.
    pub dl: Deadline,
    /// The request head sent upstream.
    pub qbuf: Vec<u8>,
    /// The response head (parsed into, then sent from).
    pub rbuf: Vec<u8>,
    /// Bytes read from the server and not used yet.
    pub ubuf: BytesMut,
}

impl Drop for Bufs {
    fn drop(&mut self) {
        crate::io::pool::give(&mut self.ubuf);
    }
}

impl Session<'_> {
    /// Whether this is HTTP/1.1 (upgrades and `100 Continue` from the proxy are HTTP/1.1
    /// things).
    pub fn is_h1(&self) -> bool {
        matches!(self, Session::H1(_))
    }

    /// Whether bytes of the request body were read with its head: the body's first write
    /// follows the head's at once (a client waiting for `100 Continue` has sent none).
    pub fn body_already_read(&self) -> bool {
        matches!(self, Session::H1(c) if !c.cbuf.is_empty())
    }

    /// Sends an interim (1xx) response head, complete with its final CRLF.
    pub async fn interim(&mut self, head: &[u8], cto: Option<Duration>) -> bool {
        match self {
            Session::H1(c) => c.send(head, cto).await,
            Session::H2(s) => s.interim(head),
        }
    }

    /// Copies the request body to the server (an HTTP/1.1 one spliced as `splice` allows).
    pub async fn body_to(
        &mut self,
        up: &mut Stream,
        framing: Framing,
        [cto, sto]: [Option<Duration>; 2],
        splice: SpliceMode,
    ) -> Result<u64, CopyError> {
        match self {
            Session::H1(c) => c.body_to(up, framing, [cto, sto], splice).await,
            Session::H2(s) => s.body_to(up, framing, cto, sto).await,
        }
    }

    /// Sends the response (`head` without its final CRLF; `connection` is the HTTP/1.1
    /// connection field to add, if any) and relays its body from `up`. Returns the bytes
    /// sent, or how it broke with the bytes sent before. An HTTP/1.1 body is spliced as
    /// `splice` allows.
    #[allow(clippy::too_many_arguments)] // the head, the stream and buffer of one relay
    pub async fn respond(
        &mut self,
        head: &mut Vec<u8>,
        connection: Option<&str>,
        up: &mut Stream,
        ubuf: &mut BytesMut,
        framing: Framing,
        [cto, sto]: [Option<Duration>; 2],
        splice: SpliceMode,
    ) -> Result<u64, (CopyError, u64)> {
        match self {
            Session::H1(c) => {
                if let Some(v) = connection {
                    super::h1::headers::push_field(head, b"connection", v.as_bytes());
                }
                head.extend_from_slice(b"\r\n");
                c.respond(head, up, ubuf, framing, [cto, sto], splice).await
            }
            Session::H2(s) => {
                // The head's memory becomes the response's field values (no copies).
                let owned = bytes::Bytes::from(std::mem::take(head));
                let r = s.respond(owned, up, ubuf, framing, cto, sto).await;
                if r.is_err() {
                    s.reset();
                }
                r
            }
        }
    }

    /// Sends a response the proxy generated (a complete raw HTTP/1.x message). Returns the
    /// bytes sent (0 when the client is gone).
    pub async fn reply(&mut self, raw: &[u8], cto: Option<Duration>) -> u64 {
        match self {
            Session::H1(c) => {
                if c.send(raw, cto).await {
                    raw.len() as u64
                } else {
                    0
                }
            }
            Session::H2(s) => s.reply(raw, cto).await,
        }
    }
}
