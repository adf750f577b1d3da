//! `keepalived.json`, what a keepalived built with `--enable-json` (Debian's is) writes on
//! its JSON signal (`keepalived --signum=JSON`): an array of `{"data": {...}, "stats":
//! {...}}`, one per instance. Only the fields published are read.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ParseError, Vip, VrrpInstance, VrrpReport, VrrpState, KEEPALIVED_STATS};

#[derive(Debug, Deserialize)]
struct Entry {
    data: EntryData,
    #[serde(default)]
    stats: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct EntryData {
    iname: String,
    ifp_ifname: String,
    vrid: u8,
    state: u64,
    #[serde(default)]
    garp_delay: Option<u64>,
    #[serde(default)]
    vips: Vec<String>,
}

/// Reads a keepalived.json dump (it has no track scripts).
pub fn parse(text: &str) -> Result<VrrpReport, ParseError> {
    let entries: Vec<Entry> =
        serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    let mut instances = Vec::with_capacity(entries.len());
    for e in entries {
        let d = e.data;
        let state = VrrpState::from_number(d.state).ok_or_else(|| ParseError::UnknownState {
            instance: d.iname.clone(),
            state: d.state.to_string(),
        })?;
        let counters = KEEPALIVED_STATS
            .iter()
            .filter_map(|(name, _)| {
                let v = e.stats.get(*name)?.as_u64()?;
                Some((Cow::Borrowed(*name), v))
            })
            .collect();
        instances.push(VrrpInstance {
            vips: d
                .vips
                .iter()
                .filter_map(|v| Vip::parse(v, &d.ifp_ifname))
                .collect(),
            iname: d.iname,
            intf: d.ifp_ifname,
            vrid: d.vrid,
            state,
            counters,
            garp_delay: d.garp_delay,
        });
    }
    Ok(VrrpReport {
        instances,
        scripts: Vec::new(),
    })
}
