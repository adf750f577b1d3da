//! What no safe wrapper covers: binding an `AF_PACKET` socket to an interface with a
//! `sockaddr_ll`, so that frames written to it leave by that interface; and registering a
//! descriptor with tokio's reactor, which cannot check that it stays the same.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

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

/// A value that owns one file descriptor and neither closes nor replaces it while it
/// lives: what tokio's reactor needs of what it registers.
///
/// # Safety
///
/// `as_raw_fd` returns the same open descriptor for the value's whole life, and only
/// dropping the value closes it.
pub unsafe trait OwnsFd: AsRawFd {}

// SAFETY: a `Socket` owns its descriptor and closes it when dropped, and only then.
unsafe impl OwnsFd for socket2::Socket {}

/// Registers `io` with tokio's reactor for `interest`; the `AsyncFd` owns it from then on.
pub fn register<T: OwnsFd>(io: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    // SAFETY: `OwnsFd`'s contract is what `register_with_interest` asks: the descriptor
    // stays open and the same while registered, and the AsyncFd owns the value.
    unsafe { AsyncFd::register_with_interest(io, interest) }.map_err(|e| e.into_parts().1)
}
