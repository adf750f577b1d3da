//! The raw-socket transport: VRRP adverts on IP protocol 112 over IPv4 and IPv6, multicast
//! or unicast, and the gratuitous ARP / unsolicited NA frames of a new master.
//!
//! Sending and receiving use separate sockets, as keepalived does: binding a raw socket to
//! a source address would also filter what it receives by destination, which would hide
//! the multicast adverts.

pub mod iface;
pub(crate) mod sys;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{recvmsg, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn, SockaddrIn6};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use vrrp_proto::frames::{emit_gratuitous_arp, emit_unsolicited_na, MacAddr};
use vrrp_proto::Family;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
/// The VRRP IPv4 multicast group, 224.0.0.18.
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group, ff02::12.
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// Largest advert we expect: 255 IPv6 addresses plus headers, rounded up.
pub const MAX_PACKET: usize = 4200;

/// Where an instance's adverts go and come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConfig {
    /// Address family of the instance.
    pub family: Family,
    /// Interface name (the sockets are bound to it).
    pub interface: String,
    /// Interface index.
    pub ifindex: u32,
    /// Source address of the adverts (also the checksum pseudo-header's source).
    pub source: IpAddr,
    /// The multicast group, used when `unicast_peers` is empty.
    pub group: IpAddr,
    /// Unicast peers; when non-empty, adverts go to each of them and no group is joined.
    pub unicast_peers: Vec<IpAddr>,
}

/// A received datagram's addressing, filled in by [`AdvertSocket::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    /// Bytes written into the buffer.
    pub len: usize,
    /// Source address.
    pub src: IpAddr,
    /// Destination address (IPv6: from IPV6_PKTINFO; IPv4: read from the header by the codec).
    pub dst: Option<IpAddr>,
    /// Hop limit (IPv6: from IPV6_HOPLIMIT; IPv4: in the header, for the codec to check).
    pub hop_limit: Option<u8>,
    /// When the kernel received it (SO_TIMESTAMPNS, on the wall clock).
    pub arrived: Option<std::time::SystemTime>,
}

/// The sockets of one VRRP instance.
#[derive(Debug)]
pub struct AdvertSocket {
    config: SocketConfig,
    send: Socket,
    recv: AsyncFd<Socket>,
}

impl AdvertSocket {
    /// Opens, configures and binds both sockets; joins the group when multicast.
    pub fn open(config: SocketConfig) -> io::Result<AdvertSocket> {
        let send = match config.family {
            Family::Ipv4 => send_socket_v4(&config)?,
            Family::Ipv6 => send_socket_v6(&config)?,
        };
        let recv = match config.family {
            Family::Ipv4 => recv_socket_v4(&config)?,
            Family::Ipv6 => recv_socket_v6(&config)?,
        };
        Ok(AdvertSocket {
            config,
            send,
            recv: sys::register(
                recv,
                tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE,
            )?,
        })
    }

    /// The configuration the sockets were opened with.
    pub fn config(&self) -> &SocketConfig {
        &self.config
    }

    /// Destinations of one advert: the group, or every unicast peer.
    pub fn destinations(&self) -> &[IpAddr] {
        if self.config.unicast_peers.is_empty() {
            std::slice::from_ref(&self.config.group)
        } else {
            &self.config.unicast_peers
        }
    }

    /// Sends one VRRP message (the kernel adds the IP header) to `dst`.
    pub fn send_to(&self, message: &[u8], dst: IpAddr) -> io::Result<()> {
        let addr: SockAddr = match dst {
            IpAddr::V4(v4) => SocketAddr::V4(SocketAddrV4::new(v4, 0)).into(),
            IpAddr::V6(v6) => {
                // Link-local and multicast destinations need the interface as scope.
                SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, self.config.ifindex)).into()
            }
        };
        let sent = self.send.send_to(message, &addr)?;
        if sent != message.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short send: {sent} of {} bytes", message.len()),
            ));
        }
        Ok(())
    }

    /// Waits for the next datagram. For IPv4 `buf` receives the whole IP packet (header
    /// included); for IPv6 the payload only, with destination and hop limit in the result.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<RecvMeta> {
        loop {
            let mut guard = self.recv.readable().await?;
            let result = guard.try_io(|inner| match self.config.family {
                Family::Ipv4 => recv_v4(inner.get_ref(), buf),
                Family::Ipv6 => recv_v6(inner.get_ref(), buf),
            });
            match result {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

fn recv_v4(socket: &Socket, buf: &mut [u8]) -> io::Result<RecvMeta> {
    // An IPv4 raw socket delivers the IP header: the source, destination and TTL are read
    // from it by the codec; the control message only brings the arrival time.
    let mut iov = [io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::timespec);
    let msg = recvmsg::<SockaddrIn>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let mut arrived = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmTimestampns(ts) = c {
            arrived = wall_time(ts);
        }
    }
    let len = msg.bytes;
    let src = match buf.get(12..16) {
        Some(&[a, b, c, d]) if len >= 20 => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    Ok(RecvMeta {
        len,
        src,
        dst: None,
        hop_limit: None,
        arrived,
    })
}

/// A kernel timestamp as a wall-clock time (`None` before the epoch).
fn wall_time(ts: TimeSpec) -> Option<std::time::SystemTime> {
    let secs = u64::try_from(ts.tv_sec()).ok()?;
    let nanos = u32::try_from(ts.tv_nsec()).ok()?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::new(secs, nanos))
}

fn recv_v6(socket: &Socket, buf: &mut [u8]) -> io::Result<RecvMeta> {
    let mut iov = [io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int, libc::timespec);
    let msg = recvmsg::<SockaddrIn6>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let mut dst = None;
    let mut hop_limit = None;
    let mut arrived = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
            }
            ControlMessageOwned::Ipv6HopLimit(h) => hop_limit = u8::try_from(h).ok(),
            ControlMessageOwned::ScmTimestampns(ts) => arrived = wall_time(ts),
            _ => {}
        }
    }
    let src = msg
        .address
        .map(|a| IpAddr::V6(a.ip()))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no source address"))?;
    Ok(RecvMeta {
        len: msg.bytes,
        src,
        dst,
        hop_limit,
        arrived,
    })
}

fn raw_socket(domain: Domain) -> io::Result<Socket> {
    let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn send_socket_v4(config: &SocketConfig) -> io::Result<Socket> {
    let IpAddr::V4(source) = config.source else {
        return Err(invalid("IPv4 instance with an IPv6 source address"));
    };
    let socket = raw_socket(Domain::IPV4)?;
    socket.bind_device(Some(config.interface.as_bytes()))?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(source, 0)).into())?;
    socket.set_ttl_v4(255)?;
    socket.set_multicast_ttl_v4(255)?;
    socket.set_multicast_loop_v4(false)?;
    socket.set_multicast_if_v4(&source)?;
    // Internetwork control, as keepalived and the RFC's examples send.
    socket.set_tos_v4(0xc0)?;
    // This socket never reads: keep the kernel from queueing every advert for it.
    socket.set_recv_buffer_size(0)?;
    Ok(socket)
}

fn recv_socket_v4(config: &SocketConfig) -> io::Result<Socket> {
    let socket = raw_socket(Domain::IPV4)?;
    socket.bind_device(Some(config.interface.as_bytes()))?;
    // Arrival times: the Master_Down_Timer runs from an advert's arrival.
    nix::sys::socket::setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
        .map_err(io::Error::from)?;
    if config.unicast_peers.is_empty() {
        let IpAddr::V4(group) = config.group else {
            return Err(invalid("IPv4 instance with an IPv6 group"));
        };
        socket.join_multicast_v4_n(
            &group,
            &socket2::InterfaceIndexOrAddress::Index(config.ifindex),
        )?;
    }
    Ok(socket)
}

fn send_socket_v6(config: &SocketConfig) -> io::Result<Socket> {
    let IpAddr::V6(source) = config.source else {
        return Err(invalid("IPv6 instance with an IPv4 source address"));
    };
    let socket = raw_socket(Domain::IPV6)?;
    socket.bind_device(Some(config.interface.as_bytes()))?;
    let scope = if source.is_unicast_link_local() {
        config.ifindex
    } else {
        0
    };
    socket.bind(&SocketAddr::V6(SocketAddrV6::new(source, 0, 0, scope)).into())?;
    socket.set_unicast_hops_v6(255)?;
    socket.set_multicast_hops_v6(255)?;
    socket.set_multicast_loop_v6(false)?;
    socket.set_multicast_if_v6(config.ifindex)?;
    socket.set_tclass_v6(0xc0)?;
    socket.set_recv_buffer_size(0)?;
    Ok(socket)
}

fn recv_socket_v6(config: &SocketConfig) -> io::Result<Socket> {
    let socket = raw_socket(Domain::IPV6)?;
    socket.bind_device(Some(config.interface.as_bytes()))?;
    nix::sys::socket::setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)
        .map_err(io::Error::from)?;
    nix::sys::socket::setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)
        .map_err(io::Error::from)?;
    nix::sys::socket::setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
        .map_err(io::Error::from)?;
    if config.unicast_peers.is_empty() {
        let IpAddr::V6(group) = config.group else {
            return Err(invalid("IPv6 instance with an IPv4 group"));
        };
        socket.join_multicast_v6(&group, config.ifindex)?;
    }
    Ok(socket)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

/// Sends gratuitous ARPs and unsolicited neighbour advertisements on one interface.
#[derive(Debug)]
pub struct AnnounceSocket {
    socket: Socket,
    mac: MacAddr,
}

impl AnnounceSocket {
    /// Opens a packet socket bound to interface `ifindex`, sending from `mac`.
    pub fn open(ifindex: u32, mac: MacAddr) -> io::Result<AnnounceSocket> {
        // Protocol 0: send only, receive nothing.
        let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))?;
        sys::bind_packet_socket(&socket, ifindex, 0)?;
        Ok(AnnounceSocket { socket, mac })
    }

    /// Announces `vip`: a gratuitous ARP for IPv4, an unsolicited NA (router flag set, from
    /// `ipv6_source`) for IPv6.
    pub fn announce(&self, vip: IpAddr, ipv6_source: Option<Ipv6Addr>) -> io::Result<()> {
        let mut frame = [0u8; 128];
        let len = match vip {
            IpAddr::V4(v4) => emit_gratuitous_arp(&mut frame, self.mac, v4),
            IpAddr::V6(v6) => {
                let src = ipv6_source.unwrap_or(v6);
                emit_unsolicited_na(&mut frame, self.mac, src, v6, true)
            }
        }
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        self.socket.send(&frame[..len])?;
        Ok(())
    }
}
