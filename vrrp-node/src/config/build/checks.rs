//! The checks across instances and sync groups, once every block is read.

use std::collections::{HashMap, HashSet};

use crate::config::model::{Family, SyncGroup, VrrpInstance};
use crate::config::tree::Word;

use crate::config::error::ConfigError;

use super::tracked::unknown_refs;
use super::values::{earlier, invalid};
use super::Known;

/// One VRID per interface and family: two instances would answer each other's adverts
/// (RFC 9568 §6.1, a VRID names one virtual router on a LAN).
pub(super) fn unique_vrids(instances: &[VrrpInstance]) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    let mut seen: HashMap<(&str, u8, Family), &VrrpInstance> = HashMap::new();
    for inst in instances {
        let key = (inst.interface.as_str(), inst.virtual_router_id, inst.family);
        // The first user is the one named by every later clash.
        if let Some(prev) = seen.get(&key) {
            errors.push(invalid(
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
        } else {
            seen.insert(key, inst);
        }
    }
    errors
}

/// The sync groups, and an error for each member that names no instance (`known`: every
/// instance defined, with errors or not) and each instance in two groups or twice in one.
pub(super) fn sync_groups(
    groups: Vec<(SyncGroup, Vec<Word>)>,
    known: &HashSet<&str>,
) -> (Vec<SyncGroup>, Vec<ConfigError>) {
    let mut sync_groups = Vec::with_capacity(groups.len());
    let mut errors = Vec::new();
    let mut member_of: HashMap<String, String> = HashMap::new();
    for (group, words) in groups {
        for w in &words {
            if !known.contains(w.text.as_str()) {
                errors.push(invalid(
                    &w.span,
                    format!(
                        "vrrp_sync_group \"{}\" names unknown vrrp_instance \"{}\"",
                        group.name, w.text
                    ),
                ));
                continue;
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
                errors.push(invalid(&w.span, message));
            }
        }
        sync_groups.push(group);
    }
    (sync_groups, errors)
}

/// Every `track_process` and `track_file` line of a sync group names a block of its kind.
pub(super) fn group_tracks(
    groups: &[(SyncGroup, Vec<Word>)],
    known: &Known<'_>,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (g, _) in groups {
        errors.extend(unknown_refs(
            &g.track_processes,
            &known.processes,
            "track_process",
            "vrrp_track_process",
        ));
        errors.extend(unknown_refs(
            &g.track_files,
            &known.files,
            "track_file",
            "track_file block",
        ));
    }
    errors
}
