//! Virtual addresses on interfaces, over rtnetlink: install and remove with prefix,
//! broadcast, scope and label, as `ip addr add/del` would, without forking `ip`; a
//! Master's renewals in batches ([`renew`]).

mod renew;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use futures_util::TryStreamExt;
use libc::{EADDRNOTAVAIL, EEXIST, EINVAL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressScope, CacheInfo,
};
use rtnetlink::Handle;

use crate::rtnl::errno;
use renew::RenewSocket;
pub use renew::{Refused, RenewalBatch};

/// One virtual address, resolved to an interface index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (32 / 128 when the configuration gives none, as keepalived does).
    pub prefix_len: u8,
    /// Interface index to put it on.
    pub ifindex: u32,
    /// IPv4 broadcast address, when configured (`brd`).
    pub broadcast: Option<Ipv4Addr>,
    /// Address scope (`scope`: 0 global, 200 site, 253 link, 254 host).
    pub scope: u8,
    /// Label (`label`), IPv4 only.
    pub label: Option<String>,
    /// Seconds the address lives unless added again (`None`: until removed). The driver
    /// re-adds a Master's addresses well before they expire, so they outlive a killed
    /// daemon only by this much.
    pub lifetime: Option<u32>,
}

/// Why an address operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VipError {
    /// The netlink socket could not be opened.
    #[error("opening the rtnetlink socket: {0}")]
    Connect(#[source] std::io::Error),
    /// The kernel refused the request.
    #[error("{op} {addr}/{prefix_len} on ifindex {ifindex}: {source}")]
    Netlink {
        /// "add" or "del".
        op: &'static str,
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// The interface.
        ifindex: u32,
        /// The kernel's error.
        #[source]
        source: rtnetlink::Error,
    },
    /// The kernel refused an IPv4 address with a non-global scope: it does so for a secondary
    /// address (one inside a subnet the interface already has) whose scope differs from the
    /// primary address's, and rtnetlink does not pass on the kernel's own message.
    #[error(
        "add {addr}/{prefix_len} scope {scope} on ifindex {ifindex}: refused (EINVAL); a \
         secondary address must have the scope of the primary address of its subnet: use that \
         scope, or put the VIP in a subnet of its own"
    )]
    ScopeRefused {
        /// The address.
        addr: IpAddr,
        /// Its prefix length.
        prefix_len: u8,
        /// The scope asked for.
        scope: u8,
        /// The interface.
        ifindex: u32,
    },
    /// Listing the addresses failed.
    #[error("listing addresses: {0}")]
    List(#[source] rtnetlink::Error),
}

/// Installs and removes virtual addresses.
#[derive(Debug, Clone)]
pub struct VipManager {
    handle: Handle,
    /// Where a Master's renewals go, from the driver's thread (see [`renew`]).
    renewals: Arc<RenewSocket>,
}

impl VipManager {
    /// Opens an rtnetlink connection whose I/O runs on a thread of its own (installs and
    /// removals are awaited there, off the thread that sends the adverts), and the socket
    /// renewals are sent on. Both in the caller's network namespace.
    pub fn connect() -> Result<VipManager, VipError> {
        let renewals = Arc::new(RenewSocket::open().map_err(VipError::Connect)?);
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("vrrpd-netlink".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    // Created here: its socket belongs to this thread's reactor.
                    match rtnetlink::new_connection() {
                        Ok((connection, handle, _)) => {
                            let _ = tx.send(Ok(handle));
                            connection.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(VipError::Connect)?;
        drop(spawned); // detached: it ends when the last handle is dropped
        let handle = rx
            .recv()
            .map_err(|_| VipError::Connect(std::io::Error::other("netlink thread ended")))?
            .map_err(VipError::Connect)?;
        Ok(VipManager { handle, renewals })
    }

    /// Adds `vip`; an address that is already there is not an error (with a lifetime, it is
    /// replaced, which starts its lifetime again).
    pub async fn add(&self, vip: &VirtualAddress) -> Result<(), VipError> {
        let mut req = self
            .handle
            .address()
            .add(vip.ifindex, vip.addr, vip.prefix_len);
        if vip.lifetime.is_some() {
            req = req.replace();
        }
        fill_add_message(req.message_mut(), vip);
        self.add_result(vip, req.execute().await)
    }

    /// Queues the renewal of `vip` (adding it again restarts its lifetime) in `batch`, for
    /// [`VipManager::send_renewals`]; `instance` names it in a refusal.
    pub fn renew(&self, vip: &VirtualAddress, instance: &str, batch: &mut RenewalBatch) {
        let mut req = self
            .handle
            .address()
            .add(vip.ifindex, vip.addr, vip.prefix_len);
        let mut message = std::mem::take(req.message_mut());
        fill_add_message(&mut message, vip);
        self.renewals.queue(batch, message, vip, instance);
    }

    /// Sends `batch`'s renewals; the kernel has done them when this returns. Returns those
    /// it refused.
    pub fn send_renewals(&self, batch: RenewalBatch) -> Vec<Refused> {
        if batch.is_empty() {
            return Vec::new();
        }
        self.renewals.send(batch)
    }

    /// What the kernel's answer to adding `vip` means.
    fn add_result(
        &self,
        vip: &VirtualAddress,
        result: Result<(), rtnetlink::Error>,
    ) -> Result<(), VipError> {
        match result {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            Err(e) if errno(&e) == Some(EINVAL) && vip.scope != 0 && vip.addr.is_ipv4() => {
                Err(VipError::ScopeRefused {
                    addr: vip.addr,
                    prefix_len: vip.prefix_len,
                    scope: vip.scope,
                    ifindex: vip.ifindex,
                })
            }
            Err(source) => Err(self.error("add", vip, source)),
        }
    }

    /// Removes `vip`; an address that is not there is not an error.
    pub async fn remove(&self, vip: &VirtualAddress) -> Result<(), VipError> {
        let mut msg = netlink_packet_route::address::AddressMessage::default();
        msg.header.family = match vip.addr {
            IpAddr::V4(_) => netlink_packet_route::AddressFamily::Inet,
            IpAddr::V6(_) => netlink_packet_route::AddressFamily::Inet6,
        };
        msg.header.prefix_len = vip.prefix_len;
        msg.header.index = vip.ifindex;
        msg.attributes.push(AddressAttribute::Local(vip.addr));
        msg.attributes.push(AddressAttribute::Address(vip.addr));
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == Some(EADDRNOTAVAIL) => Ok(()),
            Err(source) => Err(self.error("del", vip, source)),
        }
    }

    /// The addresses on interface `ifindex` now.
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<IpAddr>, VipError> {
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(ifindex)
            .execute();
        let mut out = Vec::new();
        while let Some(msg) = stream.try_next().await.map_err(VipError::List)? {
            if msg.header.index != ifindex {
                continue;
            }
            for attr in &msg.attributes {
                if let AddressAttribute::Address(addr) = attr {
                    out.push(*addr);
                }
            }
        }
        Ok(out)
    }

    fn error(&self, op: &'static str, vip: &VirtualAddress, source: rtnetlink::Error) -> VipError {
        VipError::Netlink {
            op,
            addr: vip.addr,
            prefix_len: vip.prefix_len,
            ifindex: vip.ifindex,
            source,
        }
    }
}

/// Sets what `ip addr add` would on top of the builder's message: lifetime, scope, broadcast,
/// label, and no DAD for IPv6.
fn fill_add_message(msg: &mut AddressMessage, vip: &VirtualAddress) {
    if let Some(secs) = vip.lifetime {
        // The kernel deletes the address when its valid lifetime ends (IFA_CACHEINFO).
        let mut info = CacheInfo::default();
        info.ifa_preferred = secs;
        info.ifa_valid = secs;
        msg.attributes.push(AddressAttribute::CacheInfo(info));
    }
    msg.header.scope = AddressScope::from(vip.scope);
    // The builder adds a computed broadcast; an explicit `brd` replaces it.
    if let Some(brd) = vip.broadcast {
        msg.attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        msg.attributes.push(AddressAttribute::Broadcast(brd));
    }
    if let (Some(label), IpAddr::V4(_)) = (&vip.label, vip.addr) {
        msg.attributes.push(AddressAttribute::Label(label.clone()));
    }
    if vip.addr.is_ipv6() {
        // No duplicate address detection: the VIP must answer at once after a takeover,
        // and VRRP already guarantees a single owner.
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
}
