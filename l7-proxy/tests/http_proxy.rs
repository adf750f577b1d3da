//! HTTP/1.1 against real backends on loopback, clients on plain TCP. The cases are in
//! `cases/http.rs`; `http_over_tls.rs` runs them again with every client over TLS.
#![allow(clippy::unwrap_used)]

mod common;

const TRANSPORT: common::Transport = common::Transport::Plain;

include!("cases/http.rs");
