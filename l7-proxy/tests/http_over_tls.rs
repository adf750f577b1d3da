//! The HTTP/1.1 cases of `cases/http.rs` with every client connection over TLS: the
//! proxy's binds get `ssl crt`, the clients are rustls (ALPN http/1.1). Issue 12 asks that
//! the raw request suites keep passing over TLS.
#![allow(clippy::unwrap_used)]

mod common;

const TRANSPORT: common::Transport = common::Transport::Tls;

include!("cases/http.rs");
