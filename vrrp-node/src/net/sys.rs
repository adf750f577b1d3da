//! The one socket call no safe wrapper covers: binding an `AF_PACKET` socket to an
//! interface with a `sockaddr_ll`, so that frames written to it leave by that interface.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

/// Binds a packet socket to interface `ifindex` for EtherType `protocol` (host order).
pub fn bind_packet_socket(socket: &impl AsRawFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value before we fill it.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol.to_be();
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: the pointer and length describe `addr`, which lives across the call; the fd is
    // owned by `socket`.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Registers `socket` with the tokio reactor.
pub fn register_async(
    socket: socket2::Socket,
) -> io::Result<tokio::io::unix::AsyncFd<socket2::Socket>> {
    // SAFETY: `Socket` owns its file descriptor, and the AsyncFd takes ownership of the
    // Socket: the fd is neither replaced nor closed while registered.
    unsafe { tokio::io::unix::AsyncFd::register(socket) }.map_err(|e| e.into_parts().1)
}
