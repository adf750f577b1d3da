//! `keepalived.stats`, what keepalived writes on its STATS signal (SIGUSR2): per instance
//! `VRRP Instance: NAME`, then counters two spaces in (`  Became master: 1`) or grouped
//! under a two-space heading (`  Advertisements:` then `    Received: 12`).

use std::borrow::Cow;

use super::{ParseError, KEEPALIVED_STATS};

/// One instance's counters, by keepalived's statistic name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStats {
    /// Instance.
    pub iname: String,
    /// `advert_rcvd`, ... in file order.
    pub counters: Vec<(Cow<'static, str>, u64)>,
}

/// The statistic a (heading, label) pair of the file is.
fn stat_name(heading: &str, label: &str) -> Option<&'static str> {
    Some(match (heading, label) {
        ("Advertisements", "Received") => "advert_rcvd",
        ("Advertisements", "Sent") => "advert_sent",
        ("", "Became master") => "become_master",
        ("", "Released master") => "release_master",
        ("Packet Errors", "Length") => "packet_len_err",
        ("Packet Errors", "TTL") => "ip_ttl_err",
        ("Packet Errors", "Invalid Type") => "invalid_type_rcvd",
        ("Packet Errors", "Advertisement Interval") => "advert_interval_err",
        ("Packet Errors", "Address List") => "addr_list_err",
        ("Authentication Errors", "Invalid Type") => "invalid_authtype",
        ("Authentication Errors", "Type Mismatch") => "authtype_mismatch",
        ("Authentication Errors", "Failure") => "auth_failure",
        ("Priority Zero", "Received") => "pri_zero_rcvd",
        ("Priority Zero", "Sent") => "pri_zero_sent",
        _ => return None,
    })
}

/// Reads a keepalived.stats file. Counters it does not know are left out; the others are
/// in [`KEEPALIVED_STATS`] order.
pub fn parse(text: &str) -> Result<Vec<InstanceStats>, ParseError> {
    let mut out: Vec<InstanceStats> = Vec::new();
    let mut heading = "";
    for (n, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix("VRRP Instance:") {
            out.push(InstanceStats {
                iname: name.trim().to_string(),
                counters: Vec::new(),
            });
            heading = "";
            continue;
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        let nested = line.starts_with("    ");
        let Some((label, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            heading = label;
            continue;
        }
        if !nested {
            heading = "";
        }
        let Some(name) = stat_name(heading, label) else {
            continue;
        };
        let v = value.parse::<u64>().map_err(|_| ParseError::NotANumber {
            file: "keepalived.stats",
            line: n + 1,
            what: format!("{} {name}", current.iname),
            found: value.to_string(),
        })?;
        current.counters.push((Cow::Borrowed(name), v));
    }
    // Published in one order whatever the source: keepalived-exporter's.
    let rank = |n: &str| KEEPALIVED_STATS.iter().position(|(s, _)| *s == n);
    for inst in &mut out {
        inst.counters.sort_by_key(|(n, _)| rank(n));
    }
    Ok(out)
}
