//! VIP renewals in batches: the renewals of one wake-up of the driver go to the kernel as
//! one datagram on a netlink socket of their own, without acknowledgements, from the
//! driver's thread.
//!
//! A Master renews each VIP every third of its lifetime. Sent one request at a time on
//! rtnetlink's connection, each renewal cost a send and the read of its acknowledgement,
//! and each batch a wake-up of the netlink thread: 16 Masters at advert_int 1 spent
//! ~300 us a second on renewals, more than on all their adverts (issue 16). The kernel
//! handles every message of a datagram inside the `send` that carries it, in order
//! (`netlink_rcv_skb` under the RTNL lock), so the renewals are done when `send` returns,
//! before any request made after them; without `NLM_F_ACK` it answers only the messages
//! that failed (netlink(7)), and those answers are queued on the socket by then: one
//! non-blocking read after the send finds every failure.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST,
};

use super::VirtualAddress;

/// The most bytes of renewals sent in one datagram: far below the socket's send buffer
/// (the kernel refuses a datagram larger than it), and still hundreds of renewals.
const DATAGRAM: usize = 32 * 1024;

/// Room for one answer: an error message echoes the request it refuses.
const ANSWER: usize = 8 * 1024;

/// The renewals of one wake-up, serialized, and what each one renews.
#[derive(Debug, Default)]
pub struct RenewalBatch {
    bytes: Vec<u8>,
    queued: Vec<Queued>,
}

/// One renewal in a batch.
#[derive(Debug)]
struct Queued {
    /// Where its message ends in the batch's bytes.
    end: usize,
    seq: u32,
    vip: VirtualAddress,
    instance: String,
}

impl RenewalBatch {
    /// Whether the batch holds no renewal.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }
}

/// A renewal the kernel refused (or that could not be sent), with its errno.
#[derive(Debug)]
pub struct Refused {
    /// The instance whose VIP it is.
    pub instance: String,
    /// The address.
    pub vip: VirtualAddress,
    /// The kernel's errno, or the socket's failure.
    pub error: io::Error,
}

/// The socket renewals are sent on.
#[derive(Debug)]
pub struct RenewSocket {
    socket: Socket,
    seq: AtomicU32,
}

impl RenewSocket {
    /// Opens a NETLINK_ROUTE socket in the caller's network namespace, joined to no group.
    pub fn open() -> io::Result<RenewSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.set_non_blocking(true)?;
        Ok(RenewSocket {
            socket,
            seq: AtomicU32::new(1),
        })
    }

    /// Adds to `batch` the request that installs `msg` again (`NLM_F_REPLACE`: the address
    /// stays, its lifetime starts again; `NLM_F_CREATE`: an address removed by hand comes
    /// back, as a Master's must).
    pub fn queue(
        &self,
        batch: &mut RenewalBatch,
        msg: AddressMessage,
        vip: &VirtualAddress,
        instance: &str,
    ) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut request = NetlinkMessage::from(RouteNetlinkMessage::NewAddress(msg));
        request.header.flags = NLM_F_REQUEST | NLM_F_REPLACE | NLM_F_CREATE;
        request.header.sequence_number = seq;
        request.finalize();
        let start = batch.bytes.len();
        batch.bytes.resize(start + request.buffer_len(), 0);
        request.serialize(&mut batch.bytes[start..]);
        batch.queued.push(Queued {
            end: batch.bytes.len(),
            seq,
            vip: vip.clone(),
            instance: instance.to_owned(),
        });
    }

    /// Sends `batch` (in datagrams of at most [`DATAGRAM`] bytes, cut between messages) and
    /// returns the renewals the kernel refused.
    pub fn send(&self, batch: RenewalBatch) -> Vec<Refused> {
        let mut refused = Vec::new();
        let mut start = 0;
        let mut first = 0;
        while first < batch.queued.len() {
            // The messages that fit in one datagram (at least one, whatever its size).
            let mut last = first;
            while last + 1 < batch.queued.len() && batch.queued[last + 1].end - start <= DATAGRAM {
                last += 1;
            }
            let end = batch.queued[last].end;
            if let Err(e) = self.socket.send(&batch.bytes[start..end], 0) {
                for q in &batch.queued[first..=last] {
                    let error = match e.raw_os_error() {
                        Some(errno) => io::Error::from_raw_os_error(errno),
                        None => io::Error::new(e.kind(), e.to_string()),
                    };
                    refused.push(refusal(q, error));
                }
            }
            start = end;
            first = last + 1;
        }
        self.read_refusals(&batch.queued, &mut refused);
        refused
    }

    /// Reads the kernel's answers (errors only: no acknowledgement was asked for) until none
    /// is left, and matches them to `queued` by sequence number.
    fn read_refusals(&self, queued: &[Queued], refused: &mut Vec<Refused>) {
        let mut buf = [0u8; ANSWER];
        loop {
            let n = match self.socket.recv(&mut &mut buf[..], libc::MSG_DONTWAIT) {
                Ok(n) => n.min(buf.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!("reading the answers to VIP renewals: {e}");
                    return;
                }
            };
            let mut at = 0;
            while at < n {
                let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[at..n])
                else {
                    break;
                };
                let len = usize::try_from(msg.header.length).unwrap_or(0);
                if let NetlinkPayload::Error(err) = &msg.payload {
                    let matched = queued.iter().find(|q| q.seq == msg.header.sequence_number);
                    if let (Some(errno), Some(q)) = (crate::rtnl::answer_errno(err), matched) {
                        refused.push(refusal(q, io::Error::from_raw_os_error(errno)));
                    }
                }
                // Messages are aligned to 4 bytes (NLMSG_ALIGN).
                let step = (len + 3) & !3;
                if step == 0 {
                    break;
                }
                at += step;
            }
        }
    }
}

fn refusal(q: &Queued, error: io::Error) -> Refused {
    Refused {
        instance: q.instance.clone(),
        vip: q.vip.clone(),
        error,
    }
}
