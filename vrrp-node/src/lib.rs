//! One VRRP router.
//!
//! - [`fsm`]: the RFC 5798/9568 (v3) and RFC 3768 (v2) state machine, sans-IO.
//! - `sim` (feature `sim`): a deterministic network simulator running many state machines.
//! - [`config`]: keepalived.conf into typed configuration, errors as file:line:col.
//! - [`net`]: raw IP protocol 112 sockets (IPv4/IPv6, multicast/unicast) and the packet socket
//!   for gratuitous ARP / unsolicited NA.
//! - [`vip`]: virtual addresses over rtnetlink.
//! - [`track`]: tracked processes (the process events connector) and files, sans-IO.
//! - [`driver`]: the tokio task joining them: what `vrrpd` runs.

pub mod config;
pub mod driver;
pub mod fsm;
pub mod net;
pub mod route;
mod rtnl;
#[cfg(feature = "sim")]
pub mod sim;
pub mod track;
pub mod vip;
