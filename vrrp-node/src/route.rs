//! The kernel routes of `anycast_route`s, over rtnetlink (halb's extension, see
//! docs/anycast.md): the prefix delivered locally (a `local` route in the local table, as
//! `ip route add local P dev lo table local`), and the route the node's routing daemon
//! redistributes (`ip route add P dev lo metric M` in the main table), both with the
//! protocol number [`ROUTE_PROTOCOL`] that marks them as ours.
//!
//! Why a local route and not an address on `lo`: FRR's zebra makes a connected route of
//! every interface address, and prefers it to a kernel route for the same prefix, so the
//! kernel route would never be selected nor redistributed; a local route is not an
//! interface address, and delivers (and lets a proxy bind) the prefix all the same.

use std::net::IpAddr;

use libc::{EEXIST, ESRCH};
use netlink_packet_route::route::{RouteMessage, RouteProtocol, RouteScope, RouteType};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::rtnl::errno;

/// The routing protocol number of our routes (`ip route ... proto 210`): not one of the
/// kernel's, FRR's (186..=198) or keepalived's (18), so zebra reads them as kernel routes
/// and `ip route flush proto 210` removes exactly them.
pub const ROUTE_PROTOCOL: u8 = 210;

/// The main routing table (RT_TABLE_MAIN), where zebra reads kernel routes from.
const TABLE_MAIN: u32 = 254;
/// The local routing table (RT_TABLE_LOCAL), which zebra does not read.
const TABLE_LOCAL: u32 = 255;

/// An anycast prefix on its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnycastPrefix {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
    /// The interface index of the routes.
    pub ifindex: u32,
}

impl std::fmt::Display for AnycastPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a route operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The netlink socket could not be opened.
    #[error("opening the rtnetlink socket: {0}")]
    Connect(#[source] std::io::Error),
    /// A prefix no route message can carry (the configuration checks prevent it).
    #[error("route {prefix}: {reason}")]
    Invalid {
        /// The prefix.
        prefix: String,
        /// Why.
        reason: String,
    },
    /// The kernel refused the request.
    #[error("{op} route {prefix} on ifindex {ifindex}: {source}")]
    Netlink {
        /// What was asked.
        op: &'static str,
        /// The prefix.
        prefix: String,
        /// The interface.
        ifindex: u32,
        /// The kernel's error.
        #[source]
        source: rtnetlink::Error,
    },
}

/// Installs and deletes the routes of anycast prefixes.
#[derive(Debug, Clone)]
pub struct RouteManager {
    handle: Handle,
}

impl RouteManager {
    /// Opens an rtnetlink connection; its I/O runs on a spawned tokio task.
    pub fn connect() -> Result<RouteManager, RouteError> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(RouteError::Connect)?;
        tokio::spawn(connection);
        Ok(RouteManager { handle })
    }

    /// Delivers `p` locally (the local-table route); already there is not an error.
    pub async fn add_local(&self, p: &AnycastPrefix) -> Result<(), RouteError> {
        let msg = message(p, TABLE_LOCAL, RouteType::Local, RouteScope::Host, None)?;
        self.add("add local", p, msg).await
    }

    /// Stops delivering `p` locally; not there is not an error.
    pub async fn delete_local(&self, p: &AnycastPrefix) -> Result<(), RouteError> {
        let msg = message(p, TABLE_LOCAL, RouteType::Local, RouteScope::Host, None)?;
        self.delete("delete local", p, msg).await
    }

    /// Installs the announced route of `p` with `metric`; already there is not an error.
    pub async fn announce(&self, p: &AnycastPrefix, metric: u32) -> Result<(), RouteError> {
        let msg = announced(p, Some(metric))?;
        self.add("announce", p, msg).await
    }

    /// Deletes the announced route of `p` with `metric`, or every one of ours for `p`
    /// whatever its metric (`None`: what a crashed run may have left); not there is not an
    /// error.
    pub async fn withdraw(&self, p: &AnycastPrefix, metric: Option<u32>) -> Result<(), RouteError> {
        // The kernel matches any metric when none is given (fib_table_delete).
        for _ in 0..256 {
            let found = self
                .delete_one("withdraw", p, announced(p, metric)?)
                .await?;
            if !found || metric.is_some() {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn add(
        &self,
        op: &'static str,
        p: &AnycastPrefix,
        msg: RouteMessage,
    ) -> Result<(), RouteError> {
        match self.handle.route().add(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            Err(source) => Err(error(op, p, source)),
        }
    }

    async fn delete(
        &self,
        op: &'static str,
        p: &AnycastPrefix,
        msg: RouteMessage,
    ) -> Result<(), RouteError> {
        self.delete_one(op, p, msg).await.map(|_| ())
    }

    /// Deletes one route matching `msg`; returns whether there was one.
    async fn delete_one(
        &self,
        op: &'static str,
        p: &AnycastPrefix,
        msg: RouteMessage,
    ) -> Result<bool, RouteError> {
        match self.handle.route().del(msg).execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(ESRCH) => Ok(false),
            Err(source) => Err(error(op, p, source)),
        }
    }
}

fn error(op: &'static str, p: &AnycastPrefix, source: rtnetlink::Error) -> RouteError {
    RouteError::Netlink {
        op,
        prefix: p.to_string(),
        ifindex: p.ifindex,
        source,
    }
}

/// The main-table route zebra redistributes.
fn announced(p: &AnycastPrefix, metric: Option<u32>) -> Result<RouteMessage, RouteError> {
    message(p, TABLE_MAIN, RouteType::Unicast, RouteScope::Link, metric)
}

fn message(
    p: &AnycastPrefix,
    table: u32,
    kind: RouteType,
    scope: RouteScope,
    metric: Option<u32>,
) -> Result<RouteMessage, RouteError> {
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(p.addr, p.len)
        .map_err(|e| RouteError::Invalid {
            prefix: p.to_string(),
            reason: e.to_string(),
        })?
        .output_interface(p.ifindex)
        .table_id(table)
        .protocol(RouteProtocol::from(ROUTE_PROTOCOL))
        .scope(scope)
        .kind(kind);
    if let Some(m) = metric {
        b = b.priority(m);
    }
    Ok(b.build())
}
