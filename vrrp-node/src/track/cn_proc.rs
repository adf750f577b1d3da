//! The kernel's process events connector, on the wire (linux/netlink.h, linux/connector.h,
//! linux/cn_proc.h): each datagram holds netlink messages, each a `cn_msg` for
//! `CN_IDX_PROC`/`CN_VAL_PROC` carrying one `proc_event`. Zero-copy views over the bytes
//! (`Packet::new_checked` checks every length before any field is read) and a typed
//! [`ProcEvent`] parsed from them; the subscription message built the same way. All fields
//! are in host byte order, as the kernel writes them.

use thiserror::Error;

/// Byte ranges of the three headers and of the event data.
mod field {
    /// A field's bytes.
    pub(super) type Field = core::ops::Range<usize>;

    // struct nlmsghdr
    pub(super) const NL_LEN: Field = 0..4;
    pub(super) const NL_TYPE: Field = 4..6;
    pub(super) const NL_FLAGS: Field = 6..8;
    pub(super) const NL_SEQ: Field = 8..12;
    pub(super) const NL_PID: Field = 12..16;
    pub(super) const NL_HEADER: usize = 16;

    // struct cn_msg (after the netlink header)
    pub(super) const CN_IDX: Field = 0..4;
    pub(super) const CN_VAL: Field = 4..8;
    pub(super) const CN_SEQ: Field = 8..12;
    pub(super) const CN_ACK: Field = 12..16;
    pub(super) const CN_LEN: Field = 16..18;
    pub(super) const CN_FLAGS: Field = 18..20;
    pub(super) const CN_HEADER: usize = 20;

    // struct proc_event (the cn_msg's data)
    pub(super) const EV_WHAT: Field = 0..4;
    pub(super) const EV_CPU: Field = 4..8;
    pub(super) const EV_HEADER: usize = 16;

    // event_data, after the proc_event header: every event starts with a pid and a tgid
    // (fork: the parent's), fork follows with the child's, comm with the 16-byte name.
    pub(super) const PID: Field = 0..4;
    pub(super) const TGID: Field = 4..8;
    pub(super) const CHILD_PID: Field = 8..12;
    pub(super) const CHILD_TGID: Field = 12..16;
    pub(super) const COMM: Field = 8..24;
    pub(super) const ACK_ERR: Field = 0..4;
}

/// `CN_IDX_PROC` and `CN_VAL_PROC`: the connector's id of process events.
pub const CN_IDX_PROC: u32 = 1;
/// See [`CN_IDX_PROC`].
pub const CN_VAL_PROC: u32 = 1;
/// The netlink message type the connector uses (`NLMSG_DONE`).
const NLMSG_DONE: u16 = 3;
/// Netlink's no-op and error messages, which carry no event.
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;

/// `enum proc_cn_mcast_op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McastOp {
    /// `PROC_CN_MCAST_LISTEN`: start sending events.
    Listen = 1,
    /// `PROC_CN_MCAST_IGNORE`: stop.
    Ignore = 2,
}

/// The length of the subscription message: netlink header, cn_msg, the 4-byte op.
pub const MCAST_MESSAGE_LEN: usize = field::NL_HEADER + field::CN_HEADER + 4;

/// Why bytes were not a process event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// Fewer bytes than a header needs.
    #[error("truncated {0} header")]
    Truncated(&'static str),
    /// A length field pointing before its header's end or past the bytes there are.
    #[error("{0} length {1} out of bounds")]
    BadLength(&'static str, usize),
    /// An event shorter than its kind's data.
    #[error("event {what:#x} with {len} bytes of data")]
    ShortEvent {
        /// `proc_event.what`.
        what: u32,
        /// Bytes of event data there were.
        len: usize,
    },
}

fn u16_at(b: &[u8], f: field::Field) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(f) {
        a.copy_from_slice(s);
    }
    u16::from_ne_bytes(a)
}

fn u32_at(b: &[u8], f: field::Field) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(f) {
        a.copy_from_slice(s);
    }
    u32::from_ne_bytes(a)
}

fn put(b: &mut [u8], f: field::Field, bytes: &[u8]) {
    if let Some(s) = b.get_mut(f) {
        s.copy_from_slice(bytes);
    }
}

/// A netlink message (`struct nlmsghdr` and its payload).
#[derive(Debug, Clone)]
pub struct NetlinkPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NetlinkPacket<T> {
    /// A view of `buffer` whose header and `nlmsg_len` fit in it.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < field::NL_HEADER {
            return Err(WireError::Truncated("netlink"));
        }
        let len = u32_at(b, field::NL_LEN) as usize;
        if len < field::NL_HEADER || len > b.len() {
            return Err(WireError::BadLength("netlink", len));
        }
        Ok(NetlinkPacket { buffer })
    }

    /// `nlmsg_len`: header and payload.
    pub fn len(&self) -> usize {
        u32_at(self.buffer.as_ref(), field::NL_LEN) as usize
    }

    /// Whether the message has no payload.
    pub fn is_empty(&self) -> bool {
        self.len() == field::NL_HEADER
    }

    /// `nlmsg_type`.
    pub fn msg_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::NL_TYPE)
    }

    /// The payload: the bytes after the header up to `nlmsg_len`.
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::NL_HEADER..self.len())
            .unwrap_or_default()
    }
}

/// A connector message (`struct cn_msg` and its data).
#[derive(Debug, Clone)]
pub struct ConnectorPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ConnectorPacket<T> {
    /// A view of `buffer` whose header and `len` fit in it.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < field::CN_HEADER {
            return Err(WireError::Truncated("cn_msg"));
        }
        let len = usize::from(u16_at(b, field::CN_LEN));
        if field::CN_HEADER + len > b.len() {
            return Err(WireError::BadLength("cn_msg", len));
        }
        Ok(ConnectorPacket { buffer })
    }

    /// `id.idx` and `id.val`.
    pub fn id(&self) -> (u32, u32) {
        let b = self.buffer.as_ref();
        (u32_at(b, field::CN_IDX), u32_at(b, field::CN_VAL))
    }

    /// `seq`.
    pub fn seq(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::CN_SEQ)
    }

    /// `ack`.
    pub fn ack(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::CN_ACK)
    }

    /// The data, `len` bytes.
    pub fn data(&self) -> &[u8] {
        let len = usize::from(u16_at(self.buffer.as_ref(), field::CN_LEN));
        self.buffer
            .as_ref()
            .get(field::CN_HEADER..field::CN_HEADER + len)
            .unwrap_or_default()
    }
}

/// A process event (`struct proc_event`: what, cpu, timestamp, event data).
#[derive(Debug, Clone)]
pub struct ProcEventPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ProcEventPacket<T> {
    /// A view of `buffer` that holds at least the event header.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < field::EV_HEADER {
            return Err(WireError::Truncated("proc_event"));
        }
        Ok(ProcEventPacket { buffer })
    }

    /// `what`: `PROC_EVENT_*`.
    pub fn what(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::EV_WHAT)
    }

    /// `cpu`.
    pub fn cpu(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::EV_CPU)
    }

    /// `event_data`: the rest.
    pub fn event_data(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::EV_HEADER..)
            .unwrap_or_default()
    }
}

/// `PROC_EVENT_*` values of `what`.
mod what {
    pub(super) const NONE: u32 = 0;
    pub(super) const FORK: u32 = 0x1;
    pub(super) const EXEC: u32 = 0x2;
    pub(super) const COMM: u32 = 0x200;
    pub(super) const EXIT: u32 = 0x8000_0000;
}

/// A process event, as far as tracking processes needs one. Pids are the kernel's (the
/// initial pid namespace's); a `tgid` is a process, a `pid` one of its threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    /// `PROC_EVENT_NONE`: the answer to a subscription; `err` 0 is success.
    Ack {
        /// An errno value.
        err: u32,
    },
    /// A thread or process was created.
    Fork {
        /// The creating process.
        parent_tgid: u32,
        /// The new thread.
        child_pid: u32,
        /// Its process: equal to `child_pid` for a new process.
        child_tgid: u32,
    },
    /// A process ran a new program.
    Exec {
        /// The thread.
        pid: u32,
        /// Its process.
        tgid: u32,
    },
    /// A thread changed its name (`prctl(PR_SET_NAME)`, a write to `/proc/PID/comm`).
    Comm {
        /// The thread.
        pid: u32,
        /// Its process.
        tgid: u32,
        /// The new name, NUL-padded.
        comm: [u8; 16],
    },
    /// A thread ended.
    Exit {
        /// The thread.
        pid: u32,
        /// Its process.
        tgid: u32,
    },
    /// Any other event (uid, gid, sid, ptrace, coredump, ...).
    Other {
        /// `what`.
        what: u32,
    },
}

impl ProcEvent {
    /// The event in `packet`, or why its data is too short for its kind.
    pub fn parse<T: AsRef<[u8]>>(packet: &ProcEventPacket<T>) -> Result<ProcEvent, WireError> {
        let what = packet.what();
        let d = packet.event_data();
        let need = match what {
            what::NONE => field::ACK_ERR.end,
            what::FORK => field::CHILD_TGID.end,
            what::EXEC | what::EXIT => field::TGID.end,
            what::COMM => field::COMM.end,
            _ => 0,
        };
        if d.len() < need {
            return Err(WireError::ShortEvent { what, len: d.len() });
        }
        Ok(match what {
            what::NONE => ProcEvent::Ack {
                err: u32_at(d, field::ACK_ERR),
            },
            what::FORK => ProcEvent::Fork {
                parent_tgid: u32_at(d, field::TGID),
                child_pid: u32_at(d, field::CHILD_PID),
                child_tgid: u32_at(d, field::CHILD_TGID),
            },
            what::EXEC => ProcEvent::Exec {
                pid: u32_at(d, field::PID),
                tgid: u32_at(d, field::TGID),
            },
            what::EXIT => ProcEvent::Exit {
                pid: u32_at(d, field::PID),
                tgid: u32_at(d, field::TGID),
            },
            what::COMM => {
                let mut comm = [0u8; 16];
                if let Some(s) = d.get(field::COMM) {
                    comm.copy_from_slice(s);
                }
                ProcEvent::Comm {
                    pid: u32_at(d, field::PID),
                    tgid: u32_at(d, field::TGID),
                    comm,
                }
            }
            what => ProcEvent::Other { what },
        })
    }
}

/// The process events in one datagram, in order: an `Err` for a message that is not a
/// well-formed event (the caller drops and counts it). A netlink header whose length cannot
/// be trusted ends the datagram; netlink no-ops and errors, and connector messages for
/// another id, are skipped.
pub fn events(datagram: &[u8]) -> impl Iterator<Item = Result<ProcEvent, WireError>> + '_ {
    let mut rest = Some(datagram);
    std::iter::from_fn(move || loop {
        let buf = rest.filter(|b| !b.is_empty())?;
        let nl = match NetlinkPacket::new_checked(buf) {
            Ok(nl) => nl,
            Err(e) => {
                rest = None;
                return Some(Err(e));
            }
        };
        // Messages start on 4-byte boundaries (NLMSG_ALIGN).
        let next = nl.len().next_multiple_of(4);
        rest = buf.get(next..);
        if matches!(nl.msg_type(), NLMSG_NOOP | NLMSG_ERROR) {
            continue;
        }
        let cn = match ConnectorPacket::new_checked(nl.payload()) {
            Ok(cn) => cn,
            Err(e) => return Some(Err(e)),
        };
        if cn.id() != (CN_IDX_PROC, CN_VAL_PROC) {
            continue;
        }
        return Some(ProcEventPacket::new_checked(cn.data()).and_then(|ev| ProcEvent::parse(&ev)));
    })
}

/// The message that subscribes to process events (`op` Listen) or ends the subscription
/// (Ignore), from netlink port `port` (the sender's pid, as the kernel expects).
pub fn mcast_message(op: McastOp, port: u32) -> [u8; MCAST_MESSAGE_LEN] {
    let mut b = [0u8; MCAST_MESSAGE_LEN];
    put(
        &mut b,
        field::NL_LEN,
        &(MCAST_MESSAGE_LEN as u32).to_ne_bytes(),
    );
    put(&mut b, field::NL_TYPE, &NLMSG_DONE.to_ne_bytes());
    put(&mut b, field::NL_FLAGS, &0u16.to_ne_bytes());
    put(&mut b, field::NL_SEQ, &0u32.to_ne_bytes());
    put(&mut b, field::NL_PID, &port.to_ne_bytes());
    let cn = &mut b[field::NL_HEADER..];
    put(cn, field::CN_IDX, &CN_IDX_PROC.to_ne_bytes());
    put(cn, field::CN_VAL, &CN_VAL_PROC.to_ne_bytes());
    put(cn, field::CN_SEQ, &0u32.to_ne_bytes());
    put(cn, field::CN_ACK, &0u32.to_ne_bytes());
    put(cn, field::CN_LEN, &4u16.to_ne_bytes());
    put(cn, field::CN_FLAGS, &0u16.to_ne_bytes());
    let data = field::CN_HEADER..field::CN_HEADER + 4;
    put(cn, data, &(op as u32).to_ne_bytes());
    b
}

#[cfg(test)]
#[path = "cn_proc_tests.rs"]
mod tests;
