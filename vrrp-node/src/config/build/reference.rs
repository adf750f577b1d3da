//! The keyword reference: every block's tables (`supported` and the warned ones of
//! `keywords`) as data, for `docs/keywords.md` and the tests that load each keyword.

use super::keywords::{
    GLOBAL_UNIMPLEMENTED, GROUP_UNIMPLEMENTED, INSTANCE_UNIMPLEMENTED, TOP_UNIMPLEMENTED,
    VIP_UNIMPLEMENTED,
};
use super::supported::{self, Table, PEER_UNIMPLEMENTED};

/// What vrrpd does with a keyword keepalived knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeywordStatus {
    /// Implemented.
    Supported,
    /// Accepted with a warning naming it, and ignored (a block keyword's block is skipped).
    Warned,
}

/// One keyword of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    /// The keyword.
    pub name: &'static str,
    /// What is done with it.
    pub status: KeywordStatus,
    /// A use of it as it stands in its block (supported ones), or the keyword and a
    /// placeholder value (warned ones).
    pub example: String,
}

/// The keywords of one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordBlock {
    /// The block: `top level`, `global_defs`, `vrrp_instance`, ...
    pub name: &'static str,
    /// Supported keywords first, in the order of the parser's tables, then warned ones.
    pub keywords: Vec<Keyword>,
}

/// Every block vrrpd reads and its keywords. Any keyword not listed in its block is an error.
pub fn keyword_reference() -> Vec<KeywordBlock> {
    let none: &[&str] = &[];
    let vip_warned: Vec<(&'static str, bool)> = VIP_UNIMPLEMENTED.to_vec();
    let peer_warned: Vec<(&'static str, bool)> =
        PEER_UNIMPLEMENTED.iter().map(|k| (*k, true)).collect();
    vec![
        block("top level", supported::TOP, plain(TOP_UNIMPLEMENTED)),
        block(
            "global_defs",
            supported::GLOBAL,
            plain(GLOBAL_UNIMPLEMENTED),
        ),
        block("vrrp_script", supported::SCRIPT, plain(none)),
        block(
            "vrrp_instance",
            supported::INSTANCE,
            plain(INSTANCE_UNIMPLEMENTED),
        ),
        block("authentication", supported::AUTHENTICATION, plain(none)),
        block("virtual_ipaddress", supported::VIP_MODIFIERS, vip_warned),
        block("unicast_peer", &[], peer_warned),
        block(
            "vrrp_sync_group",
            supported::GROUP,
            plain(GROUP_UNIMPLEMENTED),
        ),
        block("vrrp_track_process", supported::TRACK_PROCESS, plain(none)),
        block("track_file", supported::TRACK_FILE, plain(none)),
        block("anycast_route", supported::ANYCAST, plain(none)),
    ]
}

/// Warned keywords that take no value.
fn plain(list: &'static [&'static str]) -> Vec<(&'static str, bool)> {
    list.iter().map(|k| (*k, false)).collect()
}

fn block(name: &'static str, table: Table, warned: Vec<(&'static str, bool)>) -> KeywordBlock {
    let supported = table.iter().map(|(k, example)| Keyword {
        name: k,
        status: KeywordStatus::Supported,
        example: (*example).to_string(),
    });
    let warned = warned.into_iter().map(|(k, takes_value)| Keyword {
        name: k,
        status: KeywordStatus::Warned,
        example: if takes_value {
            format!("{k} 1")
        } else {
            k.to_string()
        },
    });
    KeywordBlock {
        name,
        keywords: supported.chain(warned).collect(),
    }
}
