//! Packet captures with tcpdump inside a namespace, and a small pcap reader.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::process::{spawn_in_dir, ProcessGuard, Signal};

/// A running `tcpdump -i IF -w FILE -U` in a namespace. [`Capture::stop`] ends it and reads
/// the frames back; dropping it without `stop` just kills tcpdump.
#[derive(Debug)]
pub struct Capture {
    guard: ProcessGuard,
    file: PathBuf,
}

impl Capture {
    /// Starts capturing on `ifname` in namespace `ns`, with an optional tcpdump filter
    /// expression (e.g. `&["arp", "or", "ip", "proto", "112"]`; empty for everything).
    /// Returns once tcpdump says it is listening (at most 5 s).
    pub fn start(ns: &str, ifname: &str, filter: &[&str]) -> io::Result<Capture> {
        let dir = tempfile::Builder::new().prefix("testkit-cap").tempdir()?;
        let file = dir.path().join("capture.pcap");
        let file_s = file.to_string_lossy().into_owned();
        // -Z root: tcpdump would otherwise drop to user tcpdump, who cannot write there.
        let mut argv = vec![
            // --immediate-mode: libpcap would otherwise hold packets in its ring for up to
            // a second, and a capture stopped soon after the traffic would miss them.
            "tcpdump",
            "--immediate-mode",
            "-i",
            ifname,
            "-w",
            &file_s,
            "-U",
            "-n",
            "-s",
            "0",
            "-Z",
            "root",
        ];
        argv.extend_from_slice(filter);
        let mut guard = spawn_in_dir(ns, &argv, dir)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if guard.log().contains("listening on") {
                break;
            }
            if let Some(st) = guard.try_wait()? {
                return Err(io::Error::other(format!(
                    "tcpdump exited ({st}): {}",
                    guard.log()
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "tcpdump not listening after 5 s: {}",
                    guard.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Capture { guard, file })
    }

    /// Frames written so far, without stopping (tcpdump writes each packet at once, `-U`).
    pub fn frames_so_far(&self) -> io::Result<Pcap> {
        let bytes = std::fs::read(&self.file)?;
        read_pcap_lenient(&bytes)
    }

    /// Stops tcpdump (SIGINT, at most 5 s) and returns what it captured.
    pub fn stop(mut self) -> io::Result<Pcap> {
        // Let the last packets reach the file.
        std::thread::sleep(Duration::from_millis(50));
        self.guard.signal(Signal::SIGINT)?;
        if self.guard.wait_timeout(Duration::from_secs(5))?.is_none() {
            self.guard.kill()?;
        }
        let bytes = std::fs::read(&self.file)?;
        read_pcap_lenient(&bytes)
    }
}

/// A parsed capture file.
#[derive(Debug, Clone)]
pub struct Pcap {
    /// The link type (1 = Ethernet).
    pub linktype: u32,
    /// The frames in file order.
    pub frames: Vec<Frame>,
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Capture time since the Unix epoch.
    pub ts: Duration,
    /// The bytes captured (the whole frame: tcpdump runs with `-s 0`).
    pub data: Vec<u8>,
}

const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

impl Frame {
    /// The Ethernet destination MAC.
    pub fn eth_dst(&self) -> Option<[u8; 6]> {
        self.data.get(0..6).and_then(|s| s.try_into().ok())
    }

    /// The Ethernet source MAC.
    pub fn eth_src(&self) -> Option<[u8; 6]> {
        self.data.get(6..12).and_then(|s| s.try_into().ok())
    }

    /// The EtherType (no VLAN tags expected in a lab).
    pub fn ethertype(&self) -> Option<u16> {
        self.data
            .get(12..14)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// The bytes after the Ethernet header.
    pub fn payload(&self) -> &[u8] {
        self.data.get(14..).unwrap_or(&[])
    }

    /// For an IPv4 frame: the protocol number (112 = VRRP).
    pub fn ipv4_protocol(&self) -> Option<u8> {
        if self.ethertype()? != ETH_P_IP {
            return None;
        }
        self.payload().get(9).copied()
    }

    /// For an IPv4 frame: source and destination.
    pub fn ipv4_addrs(&self) -> Option<(std::net::Ipv4Addr, std::net::Ipv4Addr)> {
        if self.ethertype()? != ETH_P_IP {
            return None;
        }
        let p = self.payload();
        let s: [u8; 4] = p.get(12..16)?.try_into().ok()?;
        let d: [u8; 4] = p.get(16..20)?.try_into().ok()?;
        Some((s.into(), d.into()))
    }

    /// For an IPv4 frame: the bytes after the IP header (whatever its IHL).
    pub fn ipv4_payload(&self) -> Option<&[u8]> {
        if self.ethertype()? != ETH_P_IP {
            return None;
        }
        let p = self.payload();
        let ihl = usize::from(p.first()? & 0x0f) * 4;
        p.get(ihl..)
    }

    /// For an IPv6 frame: the next header of the fixed header (112 = VRRP, 58 = ICMPv6).
    pub fn ipv6_next_header(&self) -> Option<u8> {
        if self.ethertype()? != ETH_P_IPV6 {
            return None;
        }
        self.payload().get(6).copied()
    }

    /// For an IPv6 frame: source and destination.
    pub fn ipv6_addrs(&self) -> Option<(std::net::Ipv6Addr, std::net::Ipv6Addr)> {
        if self.ethertype()? != ETH_P_IPV6 {
            return None;
        }
        let p = self.payload();
        let s: [u8; 16] = p.get(8..24)?.try_into().ok()?;
        let d: [u8; 16] = p.get(24..40)?.try_into().ok()?;
        Some((s.into(), d.into()))
    }

    /// For an IPv6 frame: the bytes after the fixed 40-byte header.
    pub fn ipv6_payload(&self) -> Option<&[u8]> {
        if self.ethertype()? != ETH_P_IPV6 {
            return None;
        }
        self.payload().get(40..)
    }

    /// True for a VRRP advertisement (IPv4 protocol or IPv6 next header 112).
    pub fn is_vrrp(&self) -> bool {
        self.ipv4_protocol() == Some(112) || self.ipv6_next_header() == Some(112)
    }

    /// For a gratuitous ARP (request or reply whose sender and target IP are equal): that IP.
    pub fn gratuitous_arp_ip(&self) -> Option<std::net::Ipv4Addr> {
        if self.ethertype()? != ETH_P_ARP {
            return None;
        }
        let p = self.payload();
        let spa: [u8; 4] = p.get(14..18)?.try_into().ok()?;
        let tpa: [u8; 4] = p.get(24..28)?.try_into().ok()?;
        (spa == tpa).then_some(spa.into())
    }

    /// For an ICMPv6 neighbour advertisement: the target address.
    pub fn neighbour_advert_target(&self) -> Option<std::net::Ipv6Addr> {
        if self.ipv6_next_header()? != 58 {
            return None;
        }
        let p = self.ipv6_payload()?;
        if *p.first()? != 136 {
            return None;
        }
        let t: [u8; 16] = p.get(8..24)?.try_into().ok()?;
        Some(t.into())
    }
}

/// Parses a classic pcap file (micro- or nanosecond timestamps, either byte order).
pub fn read_pcap(bytes: &[u8]) -> io::Result<Pcap> {
    parse_pcap(bytes, false)
}

/// Like [`read_pcap`] but a truncated last record (a file still being written) is ignored.
fn read_pcap_lenient(bytes: &[u8]) -> io::Result<Pcap> {
    parse_pcap(bytes, true)
}

fn parse_pcap(bytes: &[u8], lenient: bool) -> io::Result<Pcap> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("pcap: {m}"));
    let hdr = bytes.get(0..24).ok_or_else(|| bad("short global header"))?;
    let magic_le = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let (big_endian, nanos) = match magic_le {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        _ => return Err(bad("bad magic")),
    };
    let u32_at = |b: &[u8], off: usize| -> Option<u32> {
        let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    };
    let linktype = u32_at(hdr, 20).ok_or_else(|| bad("short global header"))?;
    let mut frames = Vec::new();
    let mut off = 24;
    while off < bytes.len() {
        let rec = match bytes.get(off..off + 16) {
            Some(r) => r,
            None if lenient => break,
            None => return Err(bad("short record header")),
        };
        let sec = u32_at(rec, 0).unwrap_or(0);
        let frac = u32_at(rec, 4).unwrap_or(0);
        let incl = u32_at(rec, 8).unwrap_or(0) as usize;
        let data = match bytes.get(off + 16..off + 16 + incl) {
            Some(d) => d,
            None if lenient => break,
            None => return Err(bad("short record")),
        };
        let ts = Duration::from_secs(u64::from(sec))
            + if nanos {
                Duration::from_nanos(u64::from(frac))
            } else {
                Duration::from_micros(u64::from(frac))
            };
        frames.push(Frame {
            ts,
            data: data.to_vec(),
        });
        off += 16 + incl;
    }
    Ok(Pcap { linktype, frames })
}
