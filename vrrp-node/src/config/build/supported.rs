//! The keepalived keywords each block implements, each with an example of its use. A block's
//! dispatcher handles a keyword only when its table here lists it, so a keyword handled but
//! not listed is an unknown keyword, and one listed but not handled an error: the tests load
//! every example (`tests/keyword_tables.rs`) and `docs/keywords.md` is generated from these
//! tables with the warned ones of `keywords`.

/// (keyword, example of its use)
pub(super) type Table = &'static [(&'static str, &'static str)];

/// Whether `table` lists `keyword`.
pub(super) fn listed(table: Table, keyword: &str) -> bool {
    table.iter().any(|(k, _)| *k == keyword)
}

/// At the top level.
pub(super) const TOP: Table = &[
    ("global_defs", "global_defs {\n    router_id lb1\n}"),
    (
        "vrrp_script",
        "vrrp_script chk_proxy {\n    script \"/usr/bin/pgrep -x lbproxy\"\n    interval 2\n    weight -20\n}",
    ),
    (
        "vrrp_instance",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        198.18.0.100/24\n    }\n}",
    ),
    (
        "vrrp_sync_group",
        "vrrp_sync_group VG_1 {\n    group {\n        VI_1\n    }\n}",
    ),
    (
        "vrrp_track_process",
        "vrrp_track_process chk_lbproxy {\n    process lbproxy\n    weight 0\n}",
    ),
    (
        "track_file",
        "track_file maint {\n    file /tmp/halb-maint\n    weight 0\n}",
    ),
    (
        "vrrp_track_file",
        "vrrp_track_file maint {\n    file /tmp/halb-maint\n}",
    ),
    (
        "anycast_route",
        "anycast_route web {\n    prefix 198.18.200.1/32\n}",
    ),
];

/// In `global_defs`.
pub(super) const GLOBAL: Table = &[
    ("router_id", "router_id lb1"),
    ("vrrp_version", "vrrp_version 3"),
    ("script_user", "script_user keepalived_script"),
    ("enable_script_security", "enable_script_security"),
    ("vrrp_garp_master_delay", "vrrp_garp_master_delay 5"),
    ("vrrp_garp_master_repeat", "vrrp_garp_master_repeat 5"),
    ("vrrp_garp_master_refresh", "vrrp_garp_master_refresh 60"),
    (
        "vrrp_garp_master_refresh_repeat",
        "vrrp_garp_master_refresh_repeat 2",
    ),
    ("vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_delay 5"),
    (
        "vrrp_garp_lower_prio_repeat",
        "vrrp_garp_lower_prio_repeat 5",
    ),
    ("vrrp_lower_prio_no_advert", "vrrp_lower_prio_no_advert"),
    (
        "vrrp_higher_prio_send_advert",
        "vrrp_higher_prio_send_advert",
    ),
    ("vrrp_mcast_group4", "vrrp_mcast_group4 224.0.0.18"),
    ("vrrp_mcast_group6", "vrrp_mcast_group6 ff02::12"),
    ("vrrp_strict", "vrrp_strict"),
];

/// In a `vrrp_script`.
pub(super) const SCRIPT: Table = &[
    ("script", "script \"/usr/bin/pgrep -x lbproxy\""),
    ("interval", "interval 2"),
    ("timeout", "timeout 1"),
    ("weight", "weight -20"),
    ("fall", "fall 2"),
    ("rise", "rise 2"),
    ("user", "user nobody"),
    ("init_fail", "init_fail"),
];

/// The notify scripts, in a `vrrp_instance` and in a `vrrp_sync_group`.
const NOTIFY: Table = &[
    (
        "notify_master",
        "notify_master \"/etc/keepalived/notify.sh master\"",
    ),
    (
        "notify_backup",
        "notify_backup \"/etc/keepalived/notify.sh backup\"",
    ),
    (
        "notify_fault",
        "notify_fault \"/etc/keepalived/notify.sh fault\"",
    ),
    (
        "notify_stop",
        "notify_stop \"/etc/keepalived/notify.sh stop\"",
    ),
    ("notify", "notify /etc/keepalived/notify.sh"),
];

/// In a `vrrp_instance`.
pub(super) const INSTANCE: Table = &[
    ("state", "state MASTER"),
    ("interface", "interface eth0"),
    ("virtual_router_id", "virtual_router_id 51"),
    ("priority", "priority 150"),
    ("advert_int", "advert_int 1"),
    ("version", "version 3"),
    ("nopreempt", "nopreempt"),
    ("preempt", "preempt"),
    ("preempt_delay", "preempt_delay 10"),
    ("unicast_src_ip", "unicast_src_ip 198.18.0.1"),
    ("mcast_src_ip", "mcast_src_ip 198.18.0.1"),
    (
        "authentication",
        "authentication {\n    auth_type PASS\n    auth_pass s3cret\n}",
    ),
    ("unicast_peer", "unicast_peer {\n    198.18.0.2\n}"),
    (
        "virtual_ipaddress",
        "virtual_ipaddress {\n    198.18.0.100/24 dev eth0 label eth0:vip\n}",
    ),
    (
        "virtual_ipaddress_excluded",
        "virtual_ipaddress_excluded {\n    2001:db8::100/64\n}",
    ),
    (
        "track_script",
        "track_script {\n    chk_proxy weight -30\n}",
    ),
    (
        "track_interface",
        "track_interface {\n    eth1 weight -20\n}",
    ),
    ("track_process", "track_process {\n    chk_lbproxy\n}"),
    ("track_file", "track_file {\n    maint weight -10\n}"),
    ("dont_track_primary", "dont_track_primary"),
    ("garp_master_delay", "garp_master_delay 5"),
    ("garp_master_repeat", "garp_master_repeat 5"),
    ("garp_master_refresh", "garp_master_refresh 60"),
    ("garp_master_refresh_repeat", "garp_master_refresh_repeat 2"),
    ("garp_lower_prio_delay", "garp_lower_prio_delay 5"),
    ("garp_lower_prio_repeat", "garp_lower_prio_repeat 5"),
    ("lower_prio_no_advert", "lower_prio_no_advert"),
    ("higher_prio_send_advert", "higher_prio_send_advert"),
    ("v3_checksum_as_v2", "v3_checksum_as_v2"),
    ("accept", "accept"),
    ("no_accept", "no_accept"),
    ("strict_mode", "strict_mode"),
    NOTIFY[0],
    NOTIFY[1],
    NOTIFY[2],
    NOTIFY[3],
    NOTIFY[4],
];

/// In a `vrrp_sync_group`.
pub(super) const GROUP: Table = &[
    ("group", "group {\n    VI_1\n}"),
    ("track_process", "track_process {\n    chk_lbproxy\n}"),
    ("track_file", "track_file {\n    maint\n}"),
    NOTIFY[0],
    NOTIFY[1],
    NOTIFY[2],
    NOTIFY[3],
    NOTIFY[4],
];

/// In a `vrrp_track_process`.
pub(super) const TRACK_PROCESS: Table = &[
    ("process", "process lbproxy -f /etc/haproxy/haproxy.cfg"),
    ("param_match", "param_match initial"),
    ("weight", "weight 0"),
    ("quorum", "quorum 1"),
    ("quorum_max", "quorum_max 2"),
    ("fork_delay", "fork_delay 0.5"),
    ("terminate_delay", "terminate_delay 0.5"),
    ("delay", "delay 0.5"),
    ("full_command", "full_command"),
];

/// In a `track_file` (`vrrp_track_file`).
pub(super) const TRACK_FILE: Table = &[
    ("file", "file /tmp/halb-maint"),
    ("weight", "weight -10 reverse"),
    ("init_file", "init_file 0 overwrite"),
];

/// In an `anycast_route` (a halb extension, not keepalived's: docs/anycast.md).
pub(super) const ANYCAST: Table = &[
    ("prefix", "prefix 198.18.200.1/32"),
    ("interface", "interface lo"),
    ("priority", "priority 100"),
    (
        "track_script",
        "track_script {\n    chk_proxy weight -30\n}",
    ),
    ("track_interface", "track_interface {\n    eth1\n}"),
    ("track_process", "track_process {\n    chk_lbproxy\n}"),
    ("track_file", "track_file {\n    maint\n}"),
];

/// In an instance's `authentication` block.
pub(super) const AUTHENTICATION: Table = &[
    ("auth_type", "auth_type PASS"),
    ("auth_pass", "auth_pass s3cret"),
];

/// Modifiers after a `virtual_ipaddress` (or `_excluded`) address; each takes a value.
/// The examples are the modifier and its value.
pub(super) const VIP_MODIFIERS: Table = &[
    ("brd", "brd 198.18.0.255"),
    ("broadcast", "broadcast 198.18.0.255"),
    ("dev", "dev eth1"),
    ("scope", "scope global"),
    ("label", "label eth0:vip"),
];

/// Modifiers after a `unicast_peer` address keepalived knows and we accept without acting
/// on; each takes a value (kept here, beside the supported tables, as the only warned table
/// of a list line).
pub(super) const PEER_UNIMPLEMENTED: &[&str] = &["min_ttl", "max_ttl"];
