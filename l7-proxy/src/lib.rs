//! The proxy engine behind `lbproxy`: haproxy.cfg ([`config`]), listeners and reload
//! ([`runtime`]), HTTP/1.1 ([`http`]) and TCP ([`tcp`]) proxying, backend pools and
//! balancing ([`backend`]), health checks wired to servers ([`checks`]), the statistics
//! page in HAProxy's CSV ([`stats`]).
//!
//! # Design
//!
//! - One tokio task per client connection. Each direction moves bytes through one bounded
//!   buffer ([`io::BUF`], 16 KiB): bodies are streamed, never accumulated, so a slow reader
//!   back-pressures the sender and memory per connection is bounded by design.
//! - Request path without locks for health: a server's UP/DOWN state is an atomic written by
//!   its check watcher; round robin walks a precomputed smooth weighted sequence with an
//!   atomic counter. The only locks are the idle-connection pool of a server (held for a
//!   push or pop) and its `maxconn` semaphore when configured.
//! - Reload builds a new generation (backends, checks, frontends), keeps the listening
//!   sockets of unchanged addresses, and publishes the new frontends to the accept loops.
//!   Connections keep the generation they were accepted in; keep-alive connections of a
//!   replaced frontend get `connection: close` on their next response (idle ones are not
//!   cut, so no client races a close; they end at their keep-alive/client timeout). A soft
//!   stop closes idle keep-alive connections at once.
//!
//! # Known differences from HAProxy 2.6
//!
//! - `option redispatch` moves every retry to another server (HAProxy: the last one).
//! - `Expect: 100-continue` is answered by the proxy (the header is not forwarded).
//! - `maxconn` queues are per server (HAProxy also has a backend-wide queue).
//! - The request body is sent before the response is read (no full-duplex exchange); a
//!   server that answers early and stops reading gets its answer forwarded, then the client
//!   connection closes.
//! - TLS (`bind ... ssl`) is parsed and reported, not served yet.

pub mod backend;
pub mod checks;
pub mod config;
pub mod errors;
pub mod http;
pub mod io;
pub mod log;
pub mod privileges;
pub mod runtime;
pub mod stats;
pub mod tcp;

pub use runtime::{Proxy, RuntimeError};
