//! The checks across instances and sync groups, once every block is read.

use std::collections::{HashMap, HashSet};

use crate::config::model::{Family, SyncGroup, VrrpInstance};
use crate::config::tree::Word;

use super::values::{earlier, invalid};
use super::R;

/// One VRID per interface and family: two instances would answer each other's adverts
/// (RFC 9568 §6.1, a VRID names one virtual router on a LAN).
pub(super) fn unique_vrids(instances: &[VrrpInstance]) -> R<()> {
    let mut seen: HashMap<(&str, u8, Family), &VrrpInstance> = HashMap::new();
    for inst in instances {
        let key = (inst.interface.as_str(), inst.virtual_router_id, inst.family);
        if let Some(prev) = seen.insert(key, inst) {
            return Err(invalid(
                &inst.span,
                format!(
                    "virtual_router_id {} on {} ({}) is already used by vrrp_instance \"{}\" at {}",
                    inst.virtual_router_id,
                    inst.interface,
                    inst.family.name(),
                    prev.name,
                    earlier(&prev.span, &inst.span)
                ),
            ));
        }
    }
    Ok(())
}

/// The sync groups, each of whose members names a known instance, no instance in two
/// groups or twice in one.
pub(super) fn sync_groups(
    groups: Vec<(SyncGroup, Vec<Word>)>,
    instances: &[VrrpInstance],
) -> R<Vec<SyncGroup>> {
    let mut sync_groups = Vec::with_capacity(groups.len());
    let mut member_of: HashMap<String, String> = HashMap::new();
    let known: HashSet<&str> = instances.iter().map(|i| i.name.as_str()).collect();
    for (group, words) in groups {
        for w in &words {
            if !known.contains(w.text.as_str()) {
                return Err(invalid(
                    &w.span,
                    format!(
                        "vrrp_sync_group \"{}\" names unknown vrrp_instance \"{}\"",
                        group.name, w.text
                    ),
                ));
            }
            if let Some(other) = member_of.insert(w.text.clone(), group.name.clone()) {
                let message = if other == group.name {
                    format!("vrrp_instance \"{}\" is listed twice in this group", w.text)
                } else {
                    format!(
                        "vrrp_instance \"{}\" is already in vrrp_sync_group \"{other}\"",
                        w.text
                    )
                };
                return Err(invalid(&w.span, message));
            }
        }
        sync_groups.push(group);
    }
    Ok(sync_groups)
}
