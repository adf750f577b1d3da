//! One running VRRP instance: its state machine, sockets, addresses, counters, and the
//! execution of the actions the state machine asks for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use tracing::{debug, info, warn};
use vrrp_proto::{
    decode_ipv4, decode_ipv6, Addresses, AdvertRepr, ChecksumScope, DecodeError, Family, Version,
};

use crate::fsm::{
    Action, Advert, Event, Instant, Observation, RouterConfig, TrackId, VirtualRouter,
};
use crate::net::{AdvertSocket, AnnounceSocket, RecvMeta};
use crate::vip::{RenewalBatch, VipManager, VirtualAddress};

use super::plan::{InstancePlan, TrackReading, TrackSource};
use super::renewal::Renewal;
use super::status::{Counters, InstanceStatus};
use super::DriverError;

/// Packet sockets on the other interfaces of an instance's VIPs: (ifindex, socket, the
/// interface's link-local address for NA).
pub type AnnounceSockets = Vec<(u32, AnnounceSocket, Option<Ipv6Addr>)>;

/// Opens the packet sockets for [`InstancePlan::other_interfaces`].
pub fn open_announce_others(plan: &InstancePlan) -> Result<AnnounceSockets, DriverError> {
    let mut out = Vec::new();
    for other in &plan.other_interfaces {
        let socket =
            AnnounceSocket::open(other.index, other.mac).map_err(|e| DriverError::Instance {
                instance: plan.name.clone(),
                what: format!("opening packet socket on {}: {e}", other.name),
            })?;
        out.push((other.index, socket, other.link_local_ipv6));
    }
    Ok(out)
}

/// The sockets on an instance's own interface, which exist only while the interface does.
#[derive(Debug)]
struct Link {
    /// Advert sockets.
    socket: Arc<AdvertSocket>,
    /// GARP/NA.
    announce: AnnounceSocket,
}

impl Link {
    fn open(plan: &InstancePlan) -> Result<Link, DriverError> {
        let fail = |what: String| DriverError::Instance {
            instance: plan.name.clone(),
            what,
        };
        let socket = AdvertSocket::open(plan.socket.clone()).map_err(|e| {
            fail(format!(
                "opening VRRP sockets on {}: {e}",
                plan.socket.interface
            ))
        })?;
        let announce =
            AnnounceSocket::open(plan.interface.index, plan.interface.mac).map_err(|e| {
                fail(format!(
                    "opening packet socket on {}: {e}",
                    plan.socket.interface
                ))
            })?;
        Ok(Link {
            socket: Arc::new(socket),
            announce,
        })
    }
}

/// A running instance.
#[derive(Debug)]
pub struct Instance {
    /// The plan it runs.
    pub plan: InstancePlan,
    /// The state machine.
    pub router: VirtualRouter,
    /// The sockets on the interface; `None` while it does not exist (the instance is in
    /// FAULT then).
    link: Option<Link>,
    /// What the state machine was last told of its interface (see
    /// [`Instance::set_interface_usable`]); it starts without an interface fault.
    interface_usable: bool,
    /// Packet sockets of [`InstancePlan::other_interfaces`], by interface index.
    announce_other: AnnounceSockets,
    advert_v4: Vec<Ipv4Addr>,
    advert_v6: Vec<Ipv6Addr>,
    /// The driver's counters (see [`Instance::counters`] for all of them).
    pub counters: Counters,
    /// Whether the VIPs are believed installed.
    pub vips_installed: bool,
    /// When their lifetime is renewed next, while they are installed.
    pub renewal: Renewal,
    /// While set, [`Action::RemoveVips`] leaves the addresses in place: a graceful stop
    /// hands them over first (see `Driver::shutdown`).
    pub hold_vips: bool,
    /// Where adverts are encoded, kept from one to the next.
    advert_buf: Vec<u8>,
}

impl Instance {
    /// Opens the sockets and creates the state machine.
    pub fn open(plan: InstancePlan) -> Result<Instance, DriverError> {
        let fail = |what: String| DriverError::Instance {
            instance: plan.name.clone(),
            what,
        };
        let router = VirtualRouter::new(plan.router.clone())
            .map_err(|e| fail(format!("invalid settings: {e}")))?;
        // Without its interface the instance waits, in FAULT, for it (see `attach`).
        let link = if plan.has_interface() {
            Some(Link::open(&plan)?)
        } else {
            None
        };
        let announce_other = open_announce_others(&plan)?;
        let (advert_v4, advert_v6) = plan.advertised();
        Ok(Instance {
            plan,
            router,
            link,
            interface_usable: true,
            announce_other,
            advert_v4,
            advert_v6,
            counters: super::status::new_counters(),
            vips_installed: false,
            renewal: Renewal::default(),
            hold_vips: false,
            advert_buf: Vec::new(),
        })
    }

    /// Name of the instance.
    pub fn name(&self) -> &str {
        &self.plan.name
    }

    /// The advert socket to read from, while the interface exists.
    pub fn socket(&self) -> Option<Arc<AdvertSocket>> {
        self.link.as_ref().map(|l| Arc::clone(&l.socket))
    }

    /// The index of the interface the sockets are on; `None` while there are none.
    pub fn attached_index(&self) -> Option<u32> {
        self.link.as_ref().map(|_| self.plan.interface.index)
    }

    /// Puts the instance on its interface, which exists (again): `plan` (made now, with the
    /// interface) gives the sockets, and the state machine takes `router_now`, `plan`'s
    /// settings with the tracks' current states (the source address may be new). Nothing
    /// changes on error.
    pub fn attach(
        &mut self,
        now: Instant,
        plan: InstancePlan,
        router_now: RouterConfig,
    ) -> Result<(), DriverError> {
        let link = Link::open(&plan)?;
        let announce_other = open_announce_others(&plan)?;
        self.router
            .reconfigure(now, router_now)
            .map_err(|e| DriverError::Instance {
                instance: plan.name.clone(),
                what: format!("settings for the new interface not taken: {e}"),
            })?;
        self.link = Some(link);
        self.announce_other = announce_other;
        (self.advert_v4, self.advert_v6) = plan.advertised();
        self.plan = plan;
        Ok(())
    }

    /// Drops the sockets of an interface that is gone (see
    /// [`InstancePlan::without_interface`]).
    pub fn detach(&mut self) {
        self.link = None;
        self.plan = self.plan.without_interface();
    }

    /// Tells the state machine whether its interface can carry VRRP now: it exists, with the
    /// sockets on it, and its link is up (`link_up`) or not tracked (`dont_track_primary`).
    /// keepalived's FAULT for a link down and for a missing interface alike. Returns whether
    /// that changed.
    pub fn set_interface_usable(&mut self, now: Instant, link_up: bool) -> bool {
        let usable = self.link.is_some() && (link_up || self.plan.source.dont_track_primary);
        if usable == self.interface_usable {
            return false;
        }
        self.interface_usable = usable;
        let event = if usable {
            Event::InterfaceUp
        } else {
            Event::InterfaceDown
        };
        self.router.handle(now, event);
        true
    }

    /// Decodes and checks a received datagram; hands a valid advert for this VRID to the
    /// state machine. Drops are counted by reason.
    pub fn receive(&mut self, now: Instant, buf: &[u8], meta: RecvMeta) {
        let decoded = match (self.plan.socket.family, meta.dst) {
            (Family::Ipv4, _) => decode_ipv4(buf),
            (Family::Ipv6, Some(IpAddr::V6(dst))) => match meta.src {
                IpAddr::V6(src) => decode_ipv6(buf, src, dst, meta.hop_limit.unwrap_or(0)),
                IpAddr::V4(_) => return,
            },
            (Family::Ipv6, _) => {
                debug!(instance = %self.plan.name, "IPv6 datagram without destination info");
                return;
            }
        };
        let rx = match decoded {
            Ok(rx) => rx,
            Err(e) => {
                self.count_drop(meta.src, &e);
                return;
            }
        };
        // Adverts of other virtual routers on the same link are not ours to count.
        if rx.advert.vrid() != self.plan.router.vrid {
            return;
        }
        if let Err(e) = self.plan.check.check(&rx.advert) {
            self.count_drop(rx.src, &e);
            return;
        }
        if !self.same_addresses(rx.advert.addresses()) {
            // keepalived counts every mismatch but drops only under vrrp_strict (RFC 3768
            // §7.1: "MAY" log, not discard, unless configured to).
            self.counters.count_drop(super::status::ADDR_LIST_ERR);
            if self.plan.source.strict {
                debug!(instance = %self.plan.name, src = %rx.src, "advert dropped: address list differs (vrrp_strict)");
                return;
            }
        }
        self.counters.advert_rcvd += 1;
        if rx.advert.priority() == 0 {
            self.counters.pri_zero_rcvd += 1;
        }
        let advert = Advert {
            source: rx.src,
            version: rx.advert.version(),
            vrid: rx.advert.vrid(),
            priority: rx.advert.priority(),
            max_advert_interval: rx.advert.interval(),
        };
        self.router.handle(now, Event::Advert(advert));
    }

    /// Whether an advert lists exactly our advertised addresses (in any order).
    fn same_addresses(&self, addrs: vrrp_proto::advert::AddressIter<'_>) -> bool {
        let n = addrs.len();
        let ours = self.advert_v4.len() + self.advert_v6.len();
        n == ours
            && addrs.into_iter().all(|a| match a {
                IpAddr::V4(v4) => self.advert_v4.contains(&v4),
                IpAddr::V6(v6) => self.advert_v6.contains(&v6),
            })
    }

    fn count_drop(&mut self, src: IpAddr, e: &DecodeError) {
        let name = e.counter().name();
        self.counters.count_drop(name);
        debug!(instance = %self.plan.name, %src, reason = name, "advert dropped: {e}");
    }

    /// Executes every queued action of the state machine and returns them, for the sync
    /// group coordinator and the notify scripts.
    pub async fn run_actions(&mut self, vips: &VipManager) -> Vec<Action> {
        let mut done = Vec::new();
        while let Some(action) = self.router.poll_action() {
            done.push(action);
            match action {
                Action::SendAdvert {
                    priority,
                    max_advert_interval,
                } => self.send_advert(priority, max_advert_interval),
                Action::InstallVips => {
                    for vip in &self.plan.vips {
                        if let Err(e) = vips.add(vip).await {
                            warn!(instance = %self.plan.name, "installing VIP: {e}");
                        }
                    }
                    self.vips_installed = true;
                    let period = self.plan.vip_renewal();
                    let now = std::time::Instant::now();
                    self.renewal.start(self.plan.router.vrid, period, now);
                    info!(instance = %self.plan.name, count = self.plan.vips.len(), "VIPs installed");
                }
                Action::RemoveVips if self.hold_vips => {}
                Action::RemoveVips => {
                    self.remove_vips(vips).await;
                }
                Action::SendGarp { count, reason } => {
                    self.send_garp(count);
                    debug!(instance = %self.plan.name, count, ?reason, "gratuitous ARP/NA sent");
                }
                Action::Notify { .. } => {}
                Action::Observe(obs) => self.observe(obs),
            }
        }
        done
    }

    /// Whether the VIPs' renewal is due at `now` (see [`Renewal::take_due`]; if so, the
    /// next one is scheduled).
    pub fn take_renewal_due(&mut self, now: std::time::Instant) -> bool {
        self.plan
            .vip_renewal()
            .is_some_and(|period| self.renewal.take_due(now, period))
    }

    /// Queues the renewal of the VIPs' lifetime in `batch`, if they are still installed
    /// (see [`VipManager::renew`]).
    pub fn renew_vips(&self, vips: &VipManager, batch: &mut RenewalBatch) {
        if !self.vips_installed {
            return;
        }
        for vip in self.plan.vips.iter().filter(|v| v.ifindex != 0) {
            vips.renew(vip, &self.plan.name, batch);
        }
    }

    /// Removes the VIPs (every exit from Master, shutdown, and at start for leftovers); those
    /// on an interface that is gone went with it.
    pub async fn remove_vips(&mut self, vips: &VipManager) {
        for vip in self.plan.vips.iter().filter(|v| v.ifindex != 0) {
            if let Err(e) = vips.remove(vip).await {
                warn!(instance = %self.plan.name, "removing VIP: {e}");
            }
        }
        if self.vips_installed {
            info!(instance = %self.plan.name, "VIPs removed");
        }
        self.vips_installed = false;
        self.renewal.stop();
    }

    fn send_advert(&mut self, priority: u8, interval: u16) {
        let Some(link) = &self.link else {
            return;
        };
        let addresses = match self.plan.socket.family {
            Family::Ipv4 => Addresses::V4(&self.advert_v4),
            Family::Ipv6 => Addresses::V6(&self.advert_v6),
        };
        let repr = AdvertRepr {
            version: self.plan.check.version,
            vrid: self.plan.router.vrid,
            priority,
            interval,
            auth: self.plan.check.auth,
            addresses,
        };
        // Reused: zeroing a fresh MAX_PACKET (4200-byte) buffer for every advert was 84%
        // of the daemon's user-space instructions once the status snapshots were gone
        // (callgrind, 255 instances at 0.05 s).
        self.advert_buf.resize(repr.buffer_len(), 0);
        let buf = &mut self.advert_buf;
        for &dst in link.socket.destinations() {
            let scope = match (self.plan.check.version, self.plan.socket.source, dst) {
                (Version::V2, _, _) => ChecksumScope::Message,
                (Version::V3, IpAddr::V4(_), _) if self.plan.v3_checksum_as_v2 => {
                    ChecksumScope::Message
                }
                (Version::V3, IpAddr::V4(src), IpAddr::V4(dst)) => {
                    ChecksumScope::Ipv4PseudoHeader { src, dst }
                }
                (Version::V3, IpAddr::V6(src), IpAddr::V6(dst)) => {
                    ChecksumScope::Ipv6PseudoHeader { src, dst }
                }
                _ => {
                    warn!(instance = %self.plan.name, %dst, "peer of the wrong address family");
                    continue;
                }
            };
            let len = match repr.emit(buf, scope) {
                Ok(len) => len,
                Err(e) => {
                    warn!(instance = %self.plan.name, "encoding advert: {e}");
                    return;
                }
            };
            match link.socket.send_to(&buf[..len], dst) {
                Ok(()) => {
                    self.counters.advert_sent += 1;
                    if priority == 0 {
                        self.counters.pri_zero_sent += 1;
                    }
                }
                Err(e) => {
                    self.counters.send_errors += 1;
                    debug!(instance = %self.plan.name, %dst, "sending advert: {e}");
                }
            }
        }
    }

    /// Whether a reload can switch this instance to `new` in place, its state kept (a
    /// Master stays Master), instead of restarting it: the sockets stay the same and the
    /// state machine takes `router_now` (`new`'s settings with the tracks' current states;
    /// see [`VirtualRouter::reconfigure`](crate::fsm::VirtualRouter::reconfigure)). The
    /// VIP lists, `dev`s, notify scripts, accept, authentication, priority, intervals,
    /// preempt settings and tracked checks can all change this way.
    pub fn can_update_in_place(&self, new: &InstancePlan, router_now: &RouterConfig) -> bool {
        let old = &self.plan;
        old.name == new.name
            && old.socket == new.socket
            && old.v3_checksum_as_v2 == new.v3_checksum_as_v2
            && old.interface.index == new.interface.index
            && old.interface.mac == new.interface.mac
            && self.router.check_reconfigure(router_now).is_ok()
    }

    /// Switches to `plan` (see [`Instance::can_update_in_place`]): the state machine takes
    /// `router_now` in its current state; while the VIPs are installed, the ones no longer
    /// listed are removed and the new ones added and announced; the next advert carries the
    /// new list. `announce_other` comes from [`open_announce_others`] for `plan`.
    pub async fn update_in_place(
        &mut self,
        now: Instant,
        plan: InstancePlan,
        router_now: RouterConfig,
        announce_other: AnnounceSockets,
        vips: &VipManager,
    ) {
        if let Err(e) = self.router.reconfigure(now, router_now) {
            // can_update_in_place checked this; the old settings stay in force.
            warn!(instance = %plan.name, "new settings not taken: {e}");
        }
        let added: Vec<VirtualAddress> = plan
            .vips
            .iter()
            .filter(|v| !self.plan.vips.contains(v))
            .cloned()
            .collect();
        let removed: Vec<VirtualAddress> = self
            .plan
            .vips
            .iter()
            .filter(|v| !plan.vips.contains(v))
            .cloned()
            .collect();
        self.announce_other = announce_other;
        (self.advert_v4, self.advert_v6) = plan.advertised();
        self.plan = plan;
        if self.vips_installed {
            for vip in &removed {
                if let Err(e) = vips.remove(vip).await {
                    warn!(instance = %self.plan.name, "removing VIP: {e}");
                }
            }
            for vip in &added {
                if let Err(e) = vips.add(vip).await {
                    warn!(instance = %self.plan.name, "installing VIP: {e}");
                }
            }
            let count = self.plan.router.garp.master_repeat.max(1);
            self.announce(&added, count);
        }
        info!(instance = %self.plan.name, state = %self.router.state().keepalived_name(),
              added = added.len(), removed = removed.len(),
              "instance updated in place (state kept)");
    }

    fn send_garp(&mut self, count: u8) {
        let vips = std::mem::take(&mut self.plan.vips);
        self.announce(&vips, count);
        self.plan.vips = vips;
    }

    /// Sends `count` GARP/NA for each of `list`, each on its VIP's interface.
    fn announce(&mut self, list: &[VirtualAddress], count: u8) {
        let ll = self.plan.interface.link_local_ipv6;
        for _ in 0..count {
            for vip in list {
                let (socket, ll) = if vip.ifindex == self.plan.interface.index {
                    match &self.link {
                        Some(link) => (&link.announce, ll),
                        None => continue,
                    }
                } else {
                    match self
                        .announce_other
                        .iter()
                        .find(|(i, _, _)| *i == vip.ifindex)
                    {
                        Some((_, socket, other_ll)) => (socket, *other_ll),
                        None => continue,
                    }
                };
                match socket.announce(vip.addr, ll) {
                    Ok(()) => self.counters.garp_sent += 1,
                    Err(e) => debug!(instance = %self.plan.name, vip = %vip.addr, "GARP/NA: {e}"),
                }
            }
        }
    }

    /// Logs an observation (the state machine counts transitions and drops itself).
    fn observe(&self, obs: Observation) {
        let name = &self.plan.name;
        match obs {
            Observation::StateChanged { from, to, reason } => {
                info!(instance = %name, %from, %to, ?reason, "Entering {} STATE", to.keepalived_name());
            }
            Observation::AdvertDropped { source, reason } => {
                debug!(instance = %name, %source, ?reason, "advert not taken");
            }
            Observation::PriorityChanged { from, to } => {
                info!(instance = %name, from, to, "effective priority changed");
            }
            other => debug!(instance = %name, ?other, "observation"),
        }
    }

    /// Every counter: the driver's own (sends, receives, codec drops, and what earlier state
    /// machines of this instance counted) plus the running state machine's.
    pub fn counters(&self) -> Counters {
        super::status::counters_plus(&self.counters, self.router.stats())
    }

    /// A snapshot for the status endpoint.
    pub fn status(&self) -> InstanceStatus {
        InstanceStatus {
            name: self.plan.name.clone(),
            interface: self.plan.socket.interface.clone(),
            vrid: self.plan.router.vrid,
            version: self.plan.check.version as u8,
            state: self.router.state().keepalived_name().to_string(),
            base_priority: self.plan.router.priority,
            effective_priority: self.router.priority(),
            vips: self
                .plan
                .vips
                .iter()
                .map(|v| format!("{}/{}", v.addr, v.prefix_len))
                .collect(),
            vips_installed: self.vips_installed,
            counters: self.counters(),
        }
    }

    /// Tells the state machine of every track whose state `state_of` knows and which it
    /// does not have yet (`None`: unknown, left as it is).
    pub fn update_tracks(
        &mut self,
        now: Instant,
        mut state_of: impl FnMut(&TrackSource) -> Option<TrackReading>,
    ) {
        for (i, source) in self.plan.tracks.iter().enumerate() {
            let Ok(id) = u16::try_from(i).map(TrackId) else {
                break;
            };
            let event = match state_of(source) {
                Some(TrackReading::Up(up))
                    if self.router.track_value(id).is_some()
                        || self.router.track_up(id) != Some(up) =>
                {
                    Event::Track { id, up }
                }
                Some(TrackReading::Value(value)) if self.router.track_value(id) != Some(value) => {
                    Event::TrackValue { id, value }
                }
                _ => continue,
            };
            self.router.handle(now, event);
        }
    }
}
