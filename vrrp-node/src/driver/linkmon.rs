//! Link changes as keepalived hears of them: a NETLINK_ROUTE socket in the daemon's network
//! namespace, subscribed to RTMGRP_LINK, so an interface going down, up, away or back is
//! seen when the kernel says so rather than at the next poll, and a quiet daemon reads no
//! sysfs file ten times a second. The messages only wake the daemon: it then reads the
//! links it cares about ([`super::Daemon::poll_links`]), which stays the one place link
//! state is read. A slow poll remains as a safety net, and a full socket buffer (ENOBUFS:
//! messages were lost) counts as a change.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::net::sys::{register, OwnsFd};

/// The receive buffer: a read takes one datagram of link messages (the kernel sends at
/// most a page or so each), and their content is not looked at.
const BUF: usize = 16 * 1024;

/// The subscribed socket.
struct LinkSocket(Socket);

impl AsRawFd for LinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A subscription to the kernel's link messages.
pub struct LinkEvents {
    socket: AsyncFd<LinkSocket>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for LinkEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkEvents").finish_non_exhaustive()
    }
}

impl LinkEvents {
    /// Subscribes (inside a tokio runtime).
    pub fn subscribe() -> io::Result<LinkEvents> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        let groups = u32::try_from(libc::RTMGRP_LINK).unwrap_or(1);
        socket.bind(&SocketAddr::new(0, groups))?;
        socket.set_non_blocking(true)?;
        Ok(LinkEvents {
            socket: register(LinkSocket(socket), Interest::READABLE)?,
            buf: vec![0u8; BUF],
        })
    }

    /// Waits until the kernel tells of a link change (or lost some of its messages), and
    /// drains what it sent. An error is the socket's own failure.
    pub async fn changed(&mut self) -> io::Result<()> {
        loop {
            let mut ready = self.socket.readable().await?;
            let mut heard = false;
            loop {
                match ready.get_inner().0.recv(&mut &mut self.buf[..], 0) {
                    Ok(_) => heard = true,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        ready.clear_ready();
                        break;
                    }
                    // Messages were dropped: the links must be read again.
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => heard = true,
                    Err(e) => return Err(e),
                }
            }
            if heard {
                return Ok(());
            }
        }
    }
}

// SAFETY: `LinkSocket` owns its socket (netlink-sys closes it on drop) and never replaces
// it.
#[allow(unsafe_code)]
unsafe impl OwnsFd for LinkSocket {}
