//! The proxy engine behind `lbproxy`: haproxy.cfg ([`config`]), listeners and reload
//! ([`runtime`]), HTTP/1.1 ([`http`]) and TCP ([`tcp`]) proxying, backend pools and
//! balancing ([`backend`]), health checks wired to servers ([`checks`]).

pub mod backend;
pub mod checks;
pub mod config;
pub mod errors;
pub mod http;
pub mod io;
pub mod log;
pub mod privileges;
pub mod runtime;
pub mod tcp;

pub use runtime::{Proxy, RuntimeError};
