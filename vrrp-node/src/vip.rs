//! Virtual addresses on interfaces, over rtnetlink: install and remove with prefix,
//! broadcast, scope and label, as `ip addr add/del` would, without forking `ip`.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::{StreamExt, TryStreamExt};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST,
};
use rtnetlink::Handle;
use tracing::warn;

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

/// The kernel's answers to one request, as rtnetlink streams them.
type Answers =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = NetlinkMessage<RouteNetlinkMessage>> + Send>>;

/// Renewals made together (in one wake-up of the driver), whose answers are read together.
#[derive(Default)]
pub struct RenewalBatch {
    answers: Vec<(VirtualAddress, String, Answers)>,
}

impl std::fmt::Debug for RenewalBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewalBatch")
            .field("renewals", &self.answers.len())
            .finish()
    }
}

/// Installs and removes virtual addresses.
#[derive(Debug, Clone)]
pub struct VipManager {
    handle: Handle,
    /// The runtime of the netlink thread, where renewals' answers are read (see
    /// [`VipManager::renew`]).
    netlink: tokio::runtime::Handle,
}

const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const EADDRNOTAVAIL: i32 = 99;

fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| -c.get()),
        _ => None,
    }
}

impl VipManager {
    /// Opens an rtnetlink connection whose I/O runs on a thread of its own: the kernel does
    /// an address change inside the `sendmsg` that asks for it, tens of microseconds each,
    /// and a Master renews every VIP every second or so; on the daemon's thread, hundreds of
    /// renewals delayed the adverts due meanwhile (the p99 of their gaps, issue 16).
    pub fn connect() -> Result<VipManager, VipError> {
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
                            let _ = tx.send(Ok((handle, tokio::runtime::Handle::current())));
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
        let (handle, netlink) = rx
            .recv()
            .map_err(|_| VipError::Connect(std::io::Error::other("netlink thread ended")))?
            .map_err(VipError::Connect)?;
        Ok(VipManager { handle, netlink })
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

    /// Renews `vip` (adds it again, which restarts its lifetime) without waiting: the
    /// request is on the netlink connection's queue when this returns, ahead of any request
    /// made after it (a removal of the same address cannot overtake it); the kernel's answer
    /// joins `batch`, whose answers [`VipManager::read_answers`] reads on the netlink thread,
    /// where a failure is logged for `instance`. A Master renews its VIPs every third of
    /// their lifetime; waiting for each answer held the driver's loop (and the adverts due
    /// meanwhile), and reading them on the driver's thread woke it once more per renewal.
    pub fn renew(
        &self,
        vip: &VirtualAddress,
        instance: &str,
        batch: &mut RenewalBatch,
    ) -> Result<(), VipError> {
        let mut req = self
            .handle
            .address()
            .add(vip.ifindex, vip.addr, vip.prefix_len);
        let mut message = std::mem::take(req.message_mut());
        fill_add_message(&mut message, vip);
        let mut request = NetlinkMessage::from(RouteNetlinkMessage::NewAddress(message));
        request.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE;
        let answers = self.handle.clone().request(request);
        let queued = answers.map_err(|source| self.error("add", vip, source))?;
        batch
            .answers
            .push((vip.clone(), instance.to_owned(), Box::pin(queued)));
        Ok(())
    }

    /// Reads the answers to `batch`'s renewals in one task on the netlink thread: one wake-up
    /// of that thread for every renewal of a driver's wake-up, where a task per renewal woke
    /// it once or twice each (64 Masters at 1 s: 42-51 context switches a second, issue 16).
    pub fn read_answers(&self, batch: RenewalBatch) {
        if batch.answers.is_empty() {
            return;
        }
        let this = self.clone();
        self.netlink.spawn(async move {
            for (vip, instance, mut answers) in batch.answers {
                while let Some(answer) = answers.next().await {
                    if let NetlinkPayload::Error(err) = answer.payload {
                        let result =
                            this.add_result(&vip, Err(rtnetlink::Error::NetlinkError(err)));
                        if let Err(e) = result {
                            warn!(%instance, "renewing VIP: {e}");
                        }
                    }
                }
            }
        });
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
