//! Shared test helpers: a minimal pcap reader and writer (classic format, microsecond
//! timestamps), enough for the captures in testdata/vrrp and for handing frames to tshark.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

/// Link type of Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The project's VRRP captures directory.
pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/vrrp")
        .join(name)
}

/// Reads every record of a classic little-endian pcap file.
pub fn read_pcap(name: &str) -> Vec<Vec<u8>> {
    let data = std::fs::read(testdata(name)).expect("capture readable");
    assert_eq!(
        &data[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{name}: little-endian pcap magic"
    );
    assert_eq!(
        u32::from_le_bytes(data[20..24].try_into().unwrap()),
        LINKTYPE_ETHERNET,
        "{name}: Ethernet link type"
    );
    let mut at = 24;
    let mut frames = Vec::new();
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16;
        frames.push(data[at..at + caplen].to_vec());
        at += caplen;
    }
    assert_eq!(at, data.len(), "{name}: no trailing bytes");
    frames
}

/// Writes Ethernet frames into a classic pcap file.
pub fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for (i, frame) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(frame);
    }
    std::fs::write(path, out).expect("pcap written");
}

/// The EtherType of a frame.
pub fn ethertype(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[12], frame[13]])
}

/// Whether an external tool needed by a test is on PATH. Missing tools fail the test in CI
/// (`CI=true`, where .ci/run installs them) and skip it elsewhere, with a message either way.
pub fn require_tool(tool: &str) -> bool {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        let msg = format!("`{tool}` is not installed (apt-get install {tool})");
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}: CI must install it");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}
