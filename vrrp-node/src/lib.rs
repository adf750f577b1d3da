//! One VRRP router.

pub mod config;
