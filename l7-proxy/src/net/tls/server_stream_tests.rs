//! The unbuffered TLS server stream against rustls' own client (tokio-rustls), on a
//! loopback connection: what goes in comes out, closes are told apart, an idle connection
//! holds no buffer, and what the handshake negotiated is read back.

use std::io::Write as _;
use std::net::TcpStream as StdTcp;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream as ClientStream;

use super::ServerStream;
use crate::net::loopback_pair;

/// A certificate for `a.test`, given to every ClientHello, which the resolver notes as the
/// proxy's resolver does.
#[derive(Debug)]
struct NotingResolver(Arc<CertifiedKey>);

impl ResolvesServerCert for NotingResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        super::note_sni(hello.server_name());
        Some(self.0.clone())
    }
}

/// A server configuration (tickets on, ALPN h2 and http/1.1) and a client one trusting it.
struct Fixture {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl Fixture {
    fn new() -> Fixture {
        let kp = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["a.test".to_string()])
            .expect("params")
            .self_signed(&kp)
            .expect("cert");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let der = rustls::pki_types::PrivateKeyDer::try_from(kp.serialize_der()).expect("der");
        let signing = provider.key_provider.load_private_key(der).expect("key");
        let key = Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing));
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(NotingResolver(key)));
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        server.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().expect("ticketer");
        let mut roots = RootCertStore::empty();
        roots.add(cert.der().clone()).expect("root");
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"h2".to_vec()];
        Fixture {
            server: Arc::new(server),
            client: Arc::new(client),
        }
    }

    /// A handshake over loopback: the proxy's side and the client's.
    async fn connect(&self) -> (ServerStream, ClientStream<TcpStream>) {
        let (c, s) = loopback_pair().await;
        let connector = tokio_rustls::TlsConnector::from(self.client.clone());
        let (server, client) = tokio::join!(
            ServerStream::accept(s, self.server.clone()),
            connector.connect(server_name(), c)
        );
        (
            server.expect("server handshake"),
            client.expect("client handshake"),
        )
    }

    /// A handshake whose client sends `first` in one write with its Finished (a client
    /// driven by hand, so the two surely arrive together), and the client's socket.
    async fn connect_sending_with_finished(&self, first: &[u8]) -> (ServerStream, StdTcp) {
        let (c, s) = loopback_pair().await;
        let server = tokio::spawn(ServerStream::accept(s, self.server.clone()));
        let (cfg, first) = (self.client.clone(), first.to_vec());
        let client = tokio::task::spawn_blocking(move || {
            let mut sock = c.into_std().expect("std socket");
            sock.set_nonblocking(false).expect("blocking");
            let mut conn = rustls::ClientConnection::new(cfg, server_name()).expect("client");
            // Once the server's Finished is in, the client's own waits, unsent.
            while conn.is_handshaking() {
                if conn.wants_write() {
                    conn.write_tls(&mut sock).expect("write ClientHello");
                } else {
                    conn.read_tls(&mut sock).expect("read the server's flight");
                    conn.process_new_packets().expect("server flight");
                }
            }
            conn.writer().write_all(&first).expect("queue");
            // One writev: the Finished and the first request together.
            conn.write_tls(&mut sock).expect("send");
            assert!(!conn.wants_write(), "all sent in one write");
            sock
        });
        let sock = client.await.expect("client");
        (
            server.await.expect("server").expect("server handshake"),
            sock,
        )
    }
}

fn server_name() -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from("a.test").expect("name")
}

/// The server sends `reply` and the client reads it whole (taking in, with it, the
/// session tickets the server sent after the handshake).
async fn reply(server: &mut ServerStream, client: &mut ClientStream<TcpStream>, reply: &[u8]) {
    server.write_all(reply).await.expect("server write");
    server.flush().await.expect("server flush");
    let mut got = vec![0u8; reply.len()];
    client.read_exact(&mut got).await.expect("client read");
    assert_eq!(got, reply);
}

/// `len` bytes that tell their positions apart.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Whether a read on `s` waits (nothing to read): the read is dropped after a moment.
async fn read_waits(s: &mut ServerStream) -> bool {
    let mut b = [0u8; 16];
    tokio::time::timeout(Duration::from_millis(50), s.read(&mut b))
        .await
        .is_err()
}

#[tokio::test]
async fn bytes_cross_both_ways_whole_through_small_reads_and_gathered_writes() {
    let f = Fixture::new();
    let (mut server, mut client) = f.connect().await;
    let up = pattern(100_000);
    let sent = up.clone();
    let writer = tokio::spawn(async move {
        client.write_all(&sent).await.expect("client write");
        client.flush().await.expect("client flush");
        client
    });
    // Reads of 1,000 bytes: a 16 KiB record's plaintext waits in the stream between them.
    let mut got = Vec::new();
    let mut b = [0u8; 1000];
    while got.len() < up.len() {
        let n = server.read(&mut b).await.expect("server read");
        assert!(n > 0, "end of file after {} bytes", got.len());
        got.extend_from_slice(&b[..n]);
    }
    assert_eq!(got, up);
    let mut client = writer.await.expect("writer");

    // A head and a body in one vectored write, then a body larger than a record.
    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".to_vec();
    let big = pattern(70_000);
    let slices = [
        std::io::IoSlice::new(&head),
        std::io::IoSlice::new(b"hello"),
    ];
    let n = server
        .write_vectored(&slices)
        .await
        .expect("vectored write");
    assert_eq!(n, head.len() + 5, "small slices go out together");
    server.write_all(&big).await.expect("server write");
    server.flush().await.expect("server flush");
    let mut want = head.clone();
    want.extend_from_slice(b"hello");
    want.extend_from_slice(&big);
    let mut down = vec![0u8; want.len()];
    client.read_exact(&mut down).await.expect("client read");
    assert_eq!(down, want);
}

#[tokio::test]
async fn a_request_sent_with_the_clients_finished_waits_for_the_reader() {
    let f = Fixture::new();
    let (mut server, _client) = f
        .connect_sending_with_finished(b"GET / HTTP/1.1\r\n\r\n")
        .await;
    assert!(
        server.has_buffered_input(),
        "read with the Finished: {server:?}"
    );
    let mut b = [0u8; 18];
    server.read_exact(&mut b).await.expect("read");
    assert_eq!(&b, b"GET / HTTP/1.1\r\n\r\n");
}

#[tokio::test]
async fn an_idle_connection_holds_no_buffer() {
    let f = Fixture::new();
    let (mut server, mut client) = f.connect().await;
    client.write_all(b"ping").await.expect("write");
    let mut b = [0u8; 4];
    server.read_exact(&mut b).await.expect("read");
    reply(&mut server, &mut client, b"pong").await;
    // As the proxy waits for a next request: for readiness, without reading.
    assert!(server.holds_no_buffer(), "{server:?}");
    assert!(read_waits(&mut server).await);
    assert!(server.holds_no_buffer(), "{server:?}");
    assert!(!server.has_buffered_input());
}

#[tokio::test]
async fn bytes_left_from_a_read_count_as_buffered_input() {
    let f = Fixture::new();
    let (mut server, mut client) = f.connect().await;
    client.write_all(b"two requests").await.expect("write");
    client.flush().await.expect("flush");
    let mut one = [0u8; 3];
    server.read_exact(&mut one).await.expect("read");
    assert!(server.has_buffered_input());
    let mut rest = [0u8; 9];
    server.read_exact(&mut rest).await.expect("read");
    assert_eq!(&rest, b" requests");
    assert!(!server.has_buffered_input());
}

#[tokio::test]
async fn close_notify_reads_as_end_of_file_and_a_bare_close_as_unexpected() {
    let f = Fixture::new();
    let (mut server, mut client) = f.connect().await;
    client.shutdown().await.expect("client close_notify");
    let mut b = [0u8; 16];
    assert_eq!(server.read(&mut b).await.expect("clean end"), 0);
    assert_eq!(server.read(&mut b).await.expect("and again"), 0);

    let (mut server, mut client) = f.connect().await;
    // The client reads what the server sent (its tickets) so that its close is a FIN.
    reply(&mut server, &mut client, b"x").await;
    drop(client);
    let e = server.read(&mut b).await.expect_err("no close_notify");
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn shutdown_sends_close_notify() {
    let f = Fixture::new();
    let (mut server, mut client) = f.connect().await;
    server.write_all(b"bye").await.expect("write");
    server.shutdown().await.expect("shutdown");
    let mut got = Vec::new();
    // A clean end (close_notify read) is Ok; a bare one would be UnexpectedEof.
    client
        .read_to_end(&mut got)
        .await
        .expect("clean end of file");
    assert_eq!(got, b"bye");
}

#[tokio::test]
async fn the_handshake_tells_sni_alpn_and_resumption() {
    let f = Fixture::new();
    let (mut server, mut client) = f.connect().await;
    assert_eq!(server.sni(), Some("a.test"));
    assert_eq!(server.session().alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(
        server.session().handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
    // The client takes its tickets in with the first reply.
    reply(&mut server, &mut client, b"x").await;

    let (server, _client) = f.connect().await;
    assert_eq!(
        server.session().handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    assert_eq!(server.sni(), Some("a.test"), "noted on resumption too");
}

/// A handshake that `garbage` fails: the error, and what the client got before the close.
async fn refused(f: &Fixture, garbage: &[u8]) -> (std::io::Error, Vec<u8>) {
    let (mut c, s) = loopback_pair().await;
    c.write_all(garbage).await.expect("write");
    let e = ServerStream::accept(s, f.server.clone())
        .await
        .expect_err("garbage");
    let mut got = Vec::new();
    c.read_to_end(&mut got).await.expect("read");
    (e, got)
}

#[tokio::test]
async fn a_client_hello_of_garbage_fails_the_handshake() {
    let f = Fixture::new();
    let (e, got) = refused(&f, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert_eq!(got.first(), Some(&21), "an alert record: {got:?}");
    // A handshake message claiming 6 MB: rustls refuses it (without an alert, as its
    // buffered connection does) and keeps its place in the bytes it was given, so the
    // stream asks it for the alert with those bytes, not an empty slice (which panicked).
    let (e, got) = refused(&f, b"\x16\x03\x01\x00\x08garbage!").await;
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert!(got.is_empty(), "{got:?}");
}

#[tokio::test]
async fn a_client_closing_during_the_handshake_fails_it() {
    let f = Fixture::new();
    let (c, s) = loopback_pair().await;
    drop(c);
    let e = ServerStream::accept(s, f.server.clone())
        .await
        .expect_err("closed");
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
}
