//! keepalived's `no_accept`: while an instance that is not the address owner (priority 255)
//! holds its VIPs, traffic addressed to them is dropped, as RFC 5798 §6.4.3 asks when
//! Accept_Mode is False.
//!
//! Like keepalived, the rule lives in nftables: one table, `inet vrrpd`, with a set of the
//! VIPs of every instance in no_accept mode and an input-hook chain that drops packets to
//! them (IPv6 neighbour discovery excepted, so the Master still answers for them). A VIP is
//! only a local address while its instance is Master, so the static set only ever drops
//! traffic on the Master. The table is replaced as a whole (atomically, in one `nft -f`
//! transaction) on start and on every reload, and deleted on shutdown.

use std::net::IpAddr;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tracing::{error, info};

/// The nftables family and table name vrrpd owns.
pub const TABLE: &str = "inet vrrpd";

/// Why the drop rule could not be installed or removed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// `nft` is not installed.
    #[error("the nft program was not found (install nftables)")]
    NotFound,
    /// `nft` could not be run.
    #[error("running nft: {0}")]
    Io(#[from] std::io::Error),
    /// `nft` refused the rules.
    #[error("nft failed ({status}): {stderr}")]
    Failed {
        /// Exit status.
        status: std::process::ExitStatus,
        /// What nft said.
        stderr: String,
    },
}

/// The VIPs one instance wants dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// Instance name (for the log lines).
    pub instance: String,
    /// Its virtual addresses (also the excluded ones).
    pub addrs: Vec<IpAddr>,
}

/// The nftables table vrrpd manages.
#[derive(Debug, Default)]
pub struct Firewall {
    /// What is installed now (`None`: not known yet, e.g. a leftover of a crashed run).
    installed: Option<Vec<Blocked>>,
}

impl Firewall {
    /// Makes the table match `blocked`: created or replaced when not empty, deleted when
    /// empty. Errors are logged, once per instance concerned; VRRP runs on regardless.
    pub async fn sync(&mut self, blocked: Vec<Blocked>) {
        if self.installed.as_ref() == Some(&blocked) {
            return;
        }
        if blocked.is_empty() {
            // Nothing wanted: remove the table if we made it (or a crashed run did), and
            // stay quiet when there is none or nft is absent.
            let had = self.installed.as_ref().is_some_and(|b| !b.is_empty());
            match nft(&format!("table {TABLE}\ndelete table {TABLE}\n")).await {
                Ok(()) if had => info!("no_accept: nftables table {TABLE} removed"),
                Ok(()) | Err(FirewallError::NotFound) => {}
                Err(e) => error!("no_accept: removing nftables table {TABLE}: {e}"),
            }
            self.installed = Some(blocked);
            return;
        }
        match nft(&ruleset(&blocked)).await {
            Ok(()) => {
                for b in &blocked {
                    info!(instance = %b.instance, vips = b.addrs.len(),
                          "no_accept: traffic to the VIPs is dropped (nftables table {TABLE})");
                }
                self.installed = Some(blocked);
            }
            Err(e) => {
                for b in &blocked {
                    error!(instance = %b.instance,
                           "no_accept: cannot install the drop rule for the VIPs, they accept traffic: {e}");
                }
                // Unknown now: try again on the next sync.
                self.installed = None;
            }
        }
    }

    /// Deletes the table (shutdown).
    pub async fn remove(&mut self) {
        self.sync(Vec::new()).await;
    }
}

/// The whole table, as an `nft -f` script that replaces any previous one atomically.
pub fn ruleset(blocked: &[Blocked]) -> String {
    let mut v4: Vec<String> = Vec::new();
    let mut v6: Vec<String> = Vec::new();
    for addr in blocked.iter().flat_map(|b| b.addrs.iter()) {
        match addr {
            IpAddr::V4(a) => v4.push(a.to_string()),
            IpAddr::V6(a) => v6.push(a.to_string()),
        }
    }
    v4.sort();
    v4.dedup();
    v6.sort();
    v6.dedup();
    let elements = |list: &[String]| {
        if list.is_empty() {
            String::new()
        } else {
            format!(" elements = {{ {} }};", list.join(", "))
        }
    };
    // "table X" first makes "delete table X" valid when there is none yet.
    format!(
        "table {TABLE}\n\
         delete table {TABLE}\n\
         table {TABLE} {{\n\
         \x20   set vips4 {{ type ipv4_addr;{} }}\n\
         \x20   set vips6 {{ type ipv6_addr;{} }}\n\
         \x20   chain input {{\n\
         \x20       type filter hook input priority filter; policy accept;\n\
         \x20       ip daddr @vips4 drop\n\
         \x20       ip6 daddr @vips6 icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept\n\
         \x20       ip6 daddr @vips6 drop\n\
         \x20   }}\n\
         }}\n",
        elements(&v4),
        elements(&v6),
    )
}

/// Runs `nft -f -` with `script` on stdin.
async fn nft(script: &str) -> Result<(), FirewallError> {
    let mut child = match Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FirewallError::NotFound),
        Err(e) => return Err(FirewallError::Io(e)),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).await?;
        // Dropped here: nft sees end of input.
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output())
        .await
        .map_err(|_| {
            FirewallError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "nft did not finish within 10 s",
            ))
        })??;
    if out.status.success() {
        Ok(())
    } else {
        Err(FirewallError::Failed {
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruleset_sets_both_families_and_skips_empty_elements() {
        let blocked = vec![
            Blocked {
                instance: "A".into(),
                addrs: vec![
                    "198.18.0.100".parse().expect("literal"),
                    "fd00:198:18::100".parse().expect("literal"),
                ],
            },
            Blocked {
                instance: "B".into(),
                addrs: vec!["198.18.0.100".parse().expect("literal")],
            },
        ];
        let r = ruleset(&blocked);
        assert!(
            r.contains("set vips4 { type ipv4_addr; elements = { 198.18.0.100 }; }"),
            "{r}"
        );
        assert!(r.contains("elements = { fd00:198:18::100 }"), "{r}");
        let only_v4 = ruleset(&blocked[1..]);
        assert!(
            only_v4.contains("set vips6 { type ipv6_addr; }"),
            "{only_v4}"
        );
        assert!(only_v4.starts_with("table inet vrrpd\ndelete table inet vrrpd\n"));
    }
}
