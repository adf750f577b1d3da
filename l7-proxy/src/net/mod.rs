//! Sockets: one [`Stream`] type for any transport (plain TCP, TLS from a client, TLS to a
//! server), listeners ([`listener`]), TLS ([`tls`]) and the waiting room of idle
//! connections ([`park`]).

pub mod early;
pub mod listener;
pub mod park;
pub mod stream;
pub mod tls;

use std::net::SocketAddr;

pub use stream::Stream;
pub use tls::TlsInfo;

/// What is known of a client connection: addresses and, after a handshake, TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address it connected to.
    pub local: SocketAddr,
    /// The TLS session, on `ssl` binds.
    pub tls: Option<TlsInfo>,
}

/// A connected pair of loopback sockets (client end, server end), for tests of the socket
/// layers.
#[cfg(test)]
pub(crate) async fn loopback_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = tokio::net::TcpStream::connect(l.local_addr().expect("addr"));
    let (a, b) = tokio::join!(a, l.accept());
    (a.expect("connect"), b.expect("accept").0)
}
