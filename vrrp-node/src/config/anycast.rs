//! The typed `anycast_route` block, a halb extension (keepalived has none): a prefix this
//! node serves, announced by the node's routing daemon (FRR) through a kernel route while
//! the block's tracked checks pass, withdrawn when they fail. See docs/anycast.md.

use std::net::IpAddr;

use super::error::Span;
use super::model::{TrackInterface, TrackScript};
use super::tracked::TrackRef;

/// `anycast_route NAME { prefix P/L  interface I  priority N  track_* { } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnycastRoute {
    /// The block's name.
    pub name: String,
    /// Where the block starts.
    pub span: Span,
    /// `prefix` (required): the network address, its host bits zero.
    pub prefix: IpAddr,
    /// The prefix length (32 / 128 when the line gives none).
    pub prefix_len: u8,
    /// `interface` (default `lo`): the device of the announced route, and where the
    /// prefix is delivered locally.
    pub interface: String,
    /// `priority` 1..255 (default 100): with the tracks' weights, the effective priority
    /// that sets the route's metric (`255 - priority`), which FRR carries as the MED.
    pub priority: u8,
    /// `track_script { }`.
    pub track_scripts: Vec<TrackScript>,
    /// `track_interface { }`.
    pub track_interfaces: Vec<TrackInterface>,
    /// `track_process { }`.
    pub track_processes: Vec<TrackRef>,
    /// `track_file { }`.
    pub track_files: Vec<TrackRef>,
}

/// The default `priority` of an `anycast_route`, a `vrrp_instance`'s default.
pub const DEFAULT_ANYCAST_PRIORITY: u8 = 100;

impl AnycastRoute {
    /// Equal in everything but where it was written (see
    /// [`VrrpInstance::same_settings`](super::VrrpInstance::same_settings)).
    pub fn same_settings(&self, other: &AnycastRoute) -> bool {
        fn strip(a: &AnycastRoute) -> AnycastRoute {
            let mut a = a.clone();
            a.span = Span::nowhere();
            for t in &mut a.track_scripts {
                t.span = Span::nowhere();
            }
            for t in &mut a.track_interfaces {
                t.span = Span::nowhere();
            }
            for t in a.track_processes.iter_mut().chain(&mut a.track_files) {
                t.span = Span::nowhere();
            }
            a
        }
        strip(self) == strip(other)
    }
}
