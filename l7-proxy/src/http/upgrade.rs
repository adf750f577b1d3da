//! `101 Switching Protocols`: after the server agreed to an upgrade (WebSocket and the
//! like), the head goes to the client and both connections become one byte tunnel.

use super::h1::response::ResponseHead;
use super::session::{Bufs, Session};
use super::upstream::{Outcome, Request};
use crate::backend::connect::Upstream;
use crate::io::tunnel;

/// `101 Switching Protocols`: the head goes to the client, then both connections are
/// joined by a tunnel (HTTP/1.1 only: HTTP/2 requests never ask to upgrade).
pub(super) async fn upgrade(
    r: Request<'_>,
    sess: &mut Session<'_>,
    bufs: &mut Bufs,
    mut up: Upstream,
    resp: ResponseHead,
) -> Outcome {
    let server = Some(up.slot.server.clone());
    let (Some(u), Session::H1(c)) = (&r.info.upgrade, sess) else {
        return Outcome::Error {
            code: 502,
            term: *b"SH",
            server,
        };
    };
    let mut h = resp.head;
    h.extend_from_slice(format!("connection: upgrade\r\nupgrade: {u}\r\n\r\n").as_bytes());
    if !c.send(&h, r.cto()).await {
        return Outcome::Aborted {
            status: 101,
            term: *b"CH",
            server,
            bytes: 0,
        };
    }
    let cpending = c.cbuf.split().freeze();
    let upending = bufs.ubuf.split().freeze();
    let (_, b, res) = tunnel(
        &mut c.stream,
        &cpending,
        &mut up.stream,
        &upending,
        r.cto(),
        r.sto(),
        r.splice(),
    )
    .await;
    match res {
        Ok(()) => Outcome::Done {
            status: 101,
            bytes: h.len() as u64 + b,
            server,
            keep: false,
        },
        Err(_) => Outcome::Aborted {
            status: 101,
            term: *b"cD",
            server,
            bytes: h.len() as u64 + b,
        },
    }
}
