//! Choosing a server: HAProxy's `roundrobin` (nginx's smooth weighted round robin,
//! precomputed so picking takes no lock), `leastconn`, `source` and `first`; backup servers
//! only when no active server is up.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Backend, Server};
use crate::config::Balance;

impl Backend {
    /// Chooses a server index for a client, skipping `exclude` (servers that failed this
    /// request). Backup servers are used only when no active server is up.
    pub fn pick(&self, client: IpAddr, exclude: &[usize]) -> Option<usize> {
        let eligible = |i: usize, backup: bool| {
            let s = &self.servers[i];
            s.backup == backup && s.is_up() && !exclude.contains(&i)
        };
        for backup in [false, true] {
            if !self
                .servers
                .iter()
                .enumerate()
                .any(|(i, _)| eligible(i, backup))
            {
                continue;
            }
            let found = match self.settings.balance {
                Balance::RoundRobin => {
                    let seq = if backup {
                        &self.rr_backup
                    } else {
                        &self.rr_active
                    };
                    let start = self.counter.fetch_add(1, Ordering::Relaxed);
                    let order = || (0..seq.len()).map(|k| seq[(start.wrapping_add(k)) % seq.len()]);
                    // A server with a free slot first; queue on the turn's server only when
                    // all are full.
                    order()
                        .find(|&i| eligible(i, backup) && self.servers[i].has_slot())
                        .or_else(|| order().find(|&i| eligible(i, backup)))
                }
                Balance::LeastConn => {
                    let n = self.servers.len();
                    let start = self.counter.fetch_add(1, Ordering::Relaxed);
                    (0..n)
                        .map(|k| (start.wrapping_add(k)) % n)
                        .filter(|&i| eligible(i, backup) && self.servers[i].weight > 0)
                        .min_by_key(|&i| {
                            let s = &self.servers[i];
                            // Connections per unit of weight, scaled to stay integral.
                            (s.active() as u64 * 256) / u64::from(s.weight.max(1))
                        })
                }
                Balance::Source => {
                    let total: u64 = (0..self.servers.len())
                        .filter(|&i| eligible(i, backup))
                        .map(|i| u64::from(self.servers[i].weight))
                        .sum();
                    if total == 0 {
                        None
                    } else {
                        let mut h = hash_ip(client) % total;
                        (0..self.servers.len())
                            .filter(|&i| eligible(i, backup))
                            .find(|&i| {
                                let w = u64::from(self.servers[i].weight);
                                if h < w {
                                    true
                                } else {
                                    h -= w;
                                    false
                                }
                            })
                    }
                }
                Balance::First => (0..self.servers.len())
                    .filter(|&i| eligible(i, backup))
                    .find(|&i| {
                        let s = &self.servers[i];
                        s.maxconn == 0 || s.active() < s.maxconn as usize
                    })
                    .or_else(|| (0..self.servers.len()).find(|&i| eligible(i, backup))),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

/// nginx's smooth weighted round robin, unrolled over one full cycle (sum of weights).
pub(super) fn swrr_sequence(servers: &[Arc<Server>], backup: bool) -> Vec<usize> {
    let members: Vec<(usize, i64)> = servers
        .iter()
        .enumerate()
        .filter(|(_, s)| s.backup == backup && s.weight > 0)
        .map(|(i, s)| (i, i64::from(s.weight)))
        .collect();
    let total: i64 = members.iter().map(|(_, w)| w).sum();
    let mut current = vec![0i64; members.len()];
    let mut seq = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best = 0;
        for (k, (_, w)) in members.iter().enumerate() {
            current[k] += w;
            if current[k] > current[best] {
                best = k;
            }
        }
        current[best] -= total;
        seq.push(members[best].0);
    }
    seq
}

fn hash_ip(ip: IpAddr) -> u64 {
    // FNV-1a: stable across runs and processes, so a client sticks to a server.
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
