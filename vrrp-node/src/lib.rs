//! One VRRP router.
//!
//! - [`fsm`]: the RFC 5798/9568 (v3) and RFC 3768 (v2) state machine, sans-IO.
//! - [`sim`] (feature `sim`): a deterministic network simulator running many state machines.

pub mod config;
pub mod driver;
pub mod fsm;
pub mod net;
#[cfg(feature = "sim")]
pub mod sim;
pub mod vip;
