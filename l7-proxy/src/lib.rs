//! The proxy engine behind `lbproxy`: haproxy.cfg ([`config`]), listeners and reload
//! ([`proxy`]), one client connection ([`connection`]: TLS, then TCP ([`tcp`]) or HTTP/1.1
//! and HTTP/2 ([`http`])), frontends and routing ([`frontend`]), backend pools and
//! balancing ([`backend`]), sockets and TLS ([`net`]), byte moving ([`io`]), health checks
//! wired to servers ([`checks`]), the statistics page ([`stats`]), logs ([`log`]).
//!
//! # Design
//!
//! - One tokio task per client connection (and per HTTP/2 stream). Each direction moves
//!   bytes through one bounded buffer ([`io::BUF`], 16 KiB): bodies are streamed, never
//!   accumulated, so a slow reader back-pressures the sender and memory per connection is
//!   bounded by design.
//! - One [`net::Stream`] for any transport and one exchange for any HTTP version
//!   ([`http::session::Session`]): TLS and HTTP/2 reuse the HTTP/1.1 logic instead of
//!   copying it. An HTTP/2 request is turned into the HTTP/1.1 head a client would have
//!   sent and checked by the same parser, so the HTTP/2 path smuggles nothing past it.
//! - Request path without locks for health: a server's UP/DOWN state is an atomic written by
//!   its check watcher; round robin walks a precomputed smooth weighted sequence with an
//!   atomic counter. The only locks are the idle-connection pool of a server (held for a
//!   push or pop) and its `maxconn` semaphore when configured.
//! - Reload builds a new generation (backends, TLS, checks, frontends), keeps the listening
//!   sockets of unchanged addresses, and publishes the new frontends to the accept loops.
//!   Connections keep the generation they were accepted in; keep-alive connections of a
//!   replaced frontend get `connection: close` on their next response (HTTP/2 ones a
//!   GOAWAY). A soft stop closes idle keep-alive connections at once.
//!
//! # Known differences from HAProxy 2.6
//!
//! - `option redispatch` moves every retry to another server (HAProxy: the last one).
//! - `Expect: 100-continue` is answered by the proxy (the header is not forwarded).
//! - `maxconn` queues are per server (HAProxy also has a backend-wide queue).
//! - The request body is sent before the response is read (no full-duplex exchange); a
//!   server that answers early and stops reading gets its answer forwarded, then the client
//!   connection closes.
//! - TLS is rustls: TLS 1.2 and 1.3 only, AEAD suites only; OpenSSL cipher strings are
//!   narrowed to what rustls offers, never widened. SNI picks certificates by their
//!   subjectAltName DNS names (not the subject CN).
//! - HTTP/2 is offered to clients (ALPN `h2`); servers are spoken to in HTTP/1.1.

pub mod backend;
pub mod checks;
pub mod config;
pub mod connection;
pub mod frontend;
pub mod http;
pub mod io;
pub mod limits;
pub mod log;
pub mod mem;
pub mod net;
pub mod privileges;
pub mod proxy;
pub mod stats;
pub mod tcp;

pub use proxy::{check_files, Proxy, RuntimeError};
