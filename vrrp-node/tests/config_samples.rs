//! Every sample in testdata/keepalived loads with the typed values it spells out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use vrrp_node::config::{
    self, Authentication, Family, InitialState, LoadedConfig, Scope, ScriptUser, VrrpVersion,
    WarningKind,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/keepalived")
}

fn load(rel: &str) -> (LoadedConfig, PathBuf) {
    let path = dir().join(rel);
    let loaded = config::load(&path).unwrap_or_else(|e| panic!("{rel} should load: {e}"));
    (loaded, path)
}

fn v4(s: &str) -> IpAddr {
    IpAddr::V4(s.parse::<Ipv4Addr>().expect("v4"))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().expect("v6"))
}

fn argv(parts: &[&str]) -> Option<Vec<String>> {
    Some(parts.iter().map(|s| s.to_string()).collect())
}

/// (keyword, line, column, kind) of each warning, file checked to be `path`.
fn warnings(l: &LoadedConfig, path: &std::path::Path) -> Vec<(String, u32, u32, WarningKind)> {
    l.warnings
        .iter()
        .map(|w| {
            assert_eq!(&*w.span.file, path, "{w}");
            (
                w.keyword.clone(),
                w.span.line,
                w.span.column,
                w.kind.clone(),
            )
        })
        .collect()
}

fn ni(k: &str, line: u32, col: u32) -> (String, u32, u32, WarningKind) {
    (k.to_string(), line, col, WarningKind::NotImplemented)
}

#[test]
fn master_of_the_pair() {
    let (l, path) = load("master.conf");
    let c = &l.config;
    assert_eq!(c.global.router_id.as_deref(), Some("LB_NODE_1"));
    assert_eq!(c.global.vrrp_version, None);
    assert!(!c.global.vrrp_strict);
    assert_eq!(c.global.garp_master_delay, Duration::from_secs(5));
    assert_eq!(c.global.garp_master_repeat, 5);
    assert_eq!(c.global.garp_master_refresh, None);
    assert_eq!(c.global.mcast_group4, Ipv4Addr::new(224, 0, 0, 18));
    assert_eq!(c.instances.len(), 1);
    let vi = &c.instances[0];
    assert_eq!(vi.name, "VI_1");
    assert_eq!((vi.span.line, vi.span.column), (18, 15));
    assert_eq!(vi.state, InitialState::Master);
    assert_eq!(vi.interface, "eth0");
    assert_eq!(vi.virtual_router_id, 51);
    assert_eq!(vi.priority, 150);
    assert_eq!(vi.advert_int_cs, 100);
    assert_eq!(vi.advert_interval(), Duration::from_secs(1));
    assert_eq!(vi.version, VrrpVersion::V2);
    assert_eq!(vi.family, Family::V4);
    assert!(vi.preempt);
    assert_eq!(vi.preempt_delay, Duration::ZERO);
    assert!(!vi.is_unicast());
    assert_eq!(vi.mcast_group, v4("224.0.0.18"));
    assert_eq!(
        vi.authentication,
        Some(Authentication::Pass("s3cret".into()))
    );
    assert_eq!(vi.virtual_ipaddresses.len(), 2);
    let a = &vi.virtual_ipaddresses[0];
    assert_eq!(a.addr, v4("198.18.0.100"));
    assert_eq!(a.prefix_len, 24);
    assert_eq!(a.dev.as_deref(), Some("eth0"));
    assert_eq!(a.label.as_deref(), Some("eth0:vip"));
    assert_eq!(a.broadcast, None);
    assert_eq!((a.span.line, a.span.column), (29, 9));
    let b = &vi.virtual_ipaddresses[1];
    assert_eq!(
        (b.addr, b.prefix_len, b.dev.as_deref()),
        (v4("198.18.0.101"), 32, None)
    );
    assert!(
        vi.accept,
        "accept is keepalived's default outside strict mode"
    );
    assert!(!vi.strict);
    assert_eq!(vi.garp_master_delay, Duration::from_secs(5));
    assert_eq!(vi.garp_master_repeat, 5);
    assert_eq!(vi.garp_master_refresh, None);
    assert_eq!(vi.garp_master_refresh_repeat, 1);
    assert!(!vi.v3_checksum_as_v2);
    assert_eq!(
        warnings(&l, &path),
        vec![
            ni("notification_email", 5, 4),
            ni("notification_email_from", 9, 4),
            ni("smtp_server", 10, 4),
            ni("smtp_connect_timeout", 11, 4),
            ni("vrrp_skip_check_adv_addr", 13, 4),
            ni("vrrp_garp_interval", 14, 4),
            ni("vrrp_gna_interval", 15, 4),
        ]
    );
    assert_eq!(
        l.warnings[0].to_string(),
        format!(
            "{}:5:4: notification_email: not implemented; block ignored",
            path.display()
        )
    );
}

#[test]
fn backup_of_the_pair_matches_the_master() {
    let (b, _) = load("backup.conf");
    let (m, _) = load("master.conf");
    assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    let (bi, mi) = (&b.config.instances[0], &m.config.instances[0]);
    assert_eq!(bi.state, InitialState::Backup);
    assert_eq!(bi.priority, 100);
    assert_eq!(b.config.global.router_id.as_deref(), Some("LB_NODE_2"));
    assert_eq!(bi.virtual_router_id, mi.virtual_router_id);
    assert_eq!(bi.authentication, mi.authentication);
    let addrs = |i: &config::VrrpInstance| {
        i.virtual_ipaddresses
            .iter()
            .map(|v| (v.addr, v.prefix_len))
            .collect::<Vec<_>>()
    };
    assert_eq!(addrs(bi), addrs(mi));
}

#[test]
fn vrrp_script_with_weight() {
    let (l, _) = load("script_weight.conf");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    scripts_and_their_settings(&l.config);
    instance_tracking_them(&l.config);
}

/// script_weight.conf's global script settings and its two `vrrp_script`s.
fn scripts_and_their_settings(c: &config::Config) {
    assert_eq!(
        c.global.script_user,
        Some(ScriptUser {
            user: "keepalived_script".into(),
            group: None
        })
    );
    assert!(c.global.enable_script_security);
    assert_eq!(c.scripts.len(), 2);
    let h = c.script("chk_haproxy").expect("chk_haproxy");
    assert_eq!(h.command, vec!["/usr/bin/killall", "-0", "haproxy"]);
    assert_eq!(h.interval, Duration::from_secs(2));
    assert_eq!(h.timeout, Duration::from_secs(1));
    assert_eq!((h.weight, h.weight_reverse), (-20, false));
    assert_eq!((h.fall, h.rise), (2, 3));
    assert_eq!(h.user, None);
    assert!(!h.init_fail);
    let m = c.script("chk_maint").expect("chk_maint");
    assert_eq!(
        m.command,
        vec![
            "/usr/local/bin/check-maint.sh",
            "--file",
            "/etc/lb/maintenance flag"
        ]
    );
    assert_eq!(m.interval, Duration::from_millis(500));
    assert_eq!(
        m.timeout,
        Duration::from_millis(500),
        "timeout defaults to the interval"
    );
    assert_eq!((m.weight, m.weight_reverse), (30, true));
    assert_eq!((m.fall, m.rise), (1, 1));
    assert_eq!(
        m.user,
        Some(ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
    assert!(m.init_fail);
}

/// script_weight.conf's instance: its address options, tracked scripts and interfaces,
/// notify scripts.
fn instance_tracking_them(c: &config::Config) {
    let vi = c.instance("VI_WEB").expect("VI_WEB");
    assert_eq!(vi.priority, 101);
    let vip = &vi.virtual_ipaddresses[0];
    assert_eq!(vip.broadcast, Some(Ipv4Addr::new(198, 18, 1, 255)));
    assert_eq!(vip.scope, Some(Scope::Global));
    assert_eq!(vip.scope.map(Scope::as_u8), Some(0));
    let ts: Vec<_> = vi
        .track_scripts
        .iter()
        .map(|t| (t.name.as_str(), t.weight, t.weight_reverse, t.span.line))
        .collect();
    assert_eq!(
        ts,
        vec![
            ("chk_haproxy", None, false, 36),
            ("chk_maint", Some(10), true, 37)
        ]
    );
    let ti: Vec<_> = vi
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight, t.weight_reverse))
        .collect();
    assert_eq!(ti, vec![("ens3", None, false), ("ens4", Some(-15), false)]);
    assert_eq!(
        vi.notify.master,
        argv(&["/etc/keepalived/notify.sh", "MASTER", "web vip"])
    );
    assert_eq!(
        vi.notify.backup,
        argv(&["/etc/keepalived/notify.sh", "BACKUP"])
    );
    assert_eq!(
        vi.notify.fault,
        argv(&["/etc/keepalived/notify.sh", "FAULT"])
    );
    assert_eq!(vi.notify.stop, argv(&["/etc/keepalived/notify.sh", "STOP"]));
    assert_eq!(vi.notify.any, argv(&["/etc/keepalived/notify-all.sh"]));
}

#[test]
fn unicast_peers() {
    let (l, _) = load("unicast.conf");
    assert!(l.warnings.is_empty());
    let vi = &l.config.instances[0];
    assert!(vi.is_unicast());
    assert_eq!(vi.unicast_src_ip, Some(v4("198.18.2.11")));
    assert_eq!(vi.unicast_peers, vec![v4("198.18.2.12"), v4("198.18.2.13")]);
    assert_eq!(vi.advert_int_cs, 200);
    assert_eq!(vi.priority, 120);
    assert_eq!(vi.state, InitialState::Backup);
    assert_eq!(vi.mcast_src_ip, None);
}

#[test]
fn pass_auth_is_truncated_to_eight_bytes_with_a_warning() {
    let (l, path) = load("pass_auth.conf");
    let vi = &l.config.instances[0];
    assert_eq!(
        vi.authentication,
        Some(Authentication::Pass("longpass".into()))
    );
    // Defaults where the file says nothing.
    assert_eq!(vi.state, InitialState::Backup);
    assert_eq!(vi.priority, 100);
    assert_eq!(vi.advert_int_cs, 100);
    assert_eq!(
        warnings(&l, &path),
        vec![("auth_pass".to_string(), 8, 19, WarningKind::Adjusted)]
    );
    assert_eq!(
        l.warnings[0].to_string(),
        format!(
            "{}:8:19: auth_pass: password longer than 8 characters; truncated to \"longpass\"",
            path.display()
        )
    );
}

#[test]
fn nopreempt_state_backup_and_garp_refresh() {
    let (l, _) = load("nopreempt.conf");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let g = &l.config.global;
    assert_eq!(g.garp_master_delay, Duration::from_secs(10));
    assert_eq!(g.garp_master_repeat, 3);
    assert_eq!(g.garp_master_refresh, Some(Duration::from_secs(60)));
    assert_eq!(g.garp_master_refresh_repeat, 2);

    let np = l.config.instance("VI_NP").expect("VI_NP");
    assert_eq!(np.state, InitialState::Backup);
    assert!(!np.preempt);
    assert!(np.dont_track_primary);
    // Instance values override the globals; the rest inherit them.
    assert_eq!(np.garp_master_refresh, Some(Duration::from_secs(30)));
    assert_eq!(np.garp_master_repeat, 4);
    assert_eq!(np.garp_master_delay, Duration::from_secs(10));
    assert_eq!(np.garp_master_refresh_repeat, 2);
    assert_eq!(np.virtual_ipaddresses.len(), 1);
    let ex: Vec<_> = np
        .virtual_ipaddresses_excluded
        .iter()
        .map(|v| (v.addr, v.prefix_len))
        .collect();
    assert_eq!(
        ex,
        vec![(v4("198.18.5.50"), 24), (v6("fd00:198:18::5:50"), 64)]
    );

    let d = l.config.instance("VI_DELAY").expect("VI_DELAY");
    assert!(d.preempt);
    assert_eq!(d.preempt_delay, Duration::from_secs(300));
    assert_eq!(d.garp_master_delay, Duration::from_secs(1));
    assert_eq!(d.garp_master_refresh, Some(Duration::from_secs(60)));
}

#[test]
fn ipv6_vrrpv3_and_sub_second_intervals() {
    let (l, _) = load("ipv6_v3.conf");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert_eq!(l.config.global.vrrp_version, Some(VrrpVersion::V3));
    let six = l.config.instance("VI_6").expect("VI_6");
    assert_eq!(six.family, Family::V6);
    assert_eq!(six.version, VrrpVersion::V3);
    assert_eq!(six.advert_int_cs, 50);
    assert_eq!(six.advert_interval(), Duration::from_millis(500));
    assert_eq!(six.mcast_group, v6("ff02::12"));
    let a: Vec<_> = six
        .virtual_ipaddresses
        .iter()
        .map(|v| (v.addr, v.prefix_len))
        .collect();
    assert_eq!(
        a,
        vec![(v6("fd00:198:18::100"), 64), (v6("fd00:198:18::101"), 128)]
    );
    // Same VRID on the same interface is fine across families.
    let four = l.config.instance("VI_4").expect("VI_4");
    assert_eq!(four.virtual_router_id, six.virtual_router_id);
    assert_eq!(four.family, Family::V4);
    assert_eq!(four.version, VrrpVersion::V3);
    assert_eq!(four.advert_int_cs, 5);
    assert!(four.v3_checksum_as_v2);
    assert!(four.accept);
}

#[test]
fn sync_group() {
    let (l, path) = load("sync_group.conf");
    let c = &l.config;
    assert_eq!(c.sync_groups.len(), 1);
    let g = &c.sync_groups[0];
    assert_eq!(g.name, "VG_ROUTER");
    assert_eq!(g.instances, vec!["VI_OUTSIDE", "VI_INSIDE"]);
    assert_eq!(
        g.notify.master,
        argv(&["/etc/keepalived/group.sh", "master"])
    );
    assert_eq!(
        g.notify.backup,
        argv(&["/etc/keepalived/group.sh", "backup"])
    );
    assert_eq!(g.notify.fault, argv(&["/etc/keepalived/group.sh", "fault"]));
    assert_eq!(g.notify.any, argv(&["/etc/keepalived/group-any.sh"]));
    assert_eq!(g.notify.stop, None);
    assert_eq!(
        c.sync_group_of("VI_INSIDE").map(|g| g.name.as_str()),
        Some("VG_ROUTER")
    );
    // The brace on its own line and the one-line block both parse.
    let inside = c.instance("VI_INSIDE").expect("VI_INSIDE");
    assert_eq!(inside.interface, "eth1");
    assert_eq!(inside.virtual_ipaddresses[0].addr, v4("198.18.8.1"));
    assert_eq!(
        warnings(&l, &path),
        vec![ni("smtp_alert", 11, 5), ni("smtp_alert", 31, 5)]
    );
}

#[test]
fn vrrp_strict() {
    let (l, _) = load("strict.conf");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert!(l.config.global.vrrp_strict);
    let vi = &l.config.instances[0];
    assert!(vi.strict);
    assert!(!vi.accept, "strict mode defaults to no_accept");
    assert_eq!(vi.version, VrrpVersion::V3);
    assert_eq!(vi.advert_int_cs, 20);
    assert_eq!(vi.authentication, None);
}

/// keepalived 2.2.7's `--dump-conf` of an instance that sets nothing says "Gratuitous ARP
/// lower priority delay = 5, repeat = 5, Send advert after receive lower priority advert =
/// true": the lower-priority GARPs follow the global master ones; strict mode turns them off.
#[test]
fn lower_priority_garps_default_as_keepalived() {
    let instance = |globals: &str, body: &str| {
        let text = format!(
            "global_defs {{\n{globals}\n}}\nvrrp_instance A {{\n interface lo\n virtual_router_id 1\n virtual_ipaddress {{\n  198.18.0.100/24\n }}\n{body}\n}}\n"
        );
        let l = config::parse_str(&text, "lower_prio.conf").expect("loads");
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let vi = l.config.instances[0].clone();
        (
            vi.garp_lower_prio_repeat,
            vi.garp_lower_prio_delay.as_secs(),
            vi.lower_prio_no_advert,
            vi.higher_prio_send_advert,
        )
    };
    assert_eq!(instance("", ""), (5, 5, false, false));
    assert_eq!(
        instance(" vrrp_garp_master_repeat 3\n vrrp_garp_master_delay 7", ""),
        (3, 7, false, false),
        "the global master ones"
    );
    assert_eq!(
        instance(
            " vrrp_garp_master_repeat 3\n vrrp_garp_lower_prio_repeat 2\n vrrp_garp_lower_prio_delay 0\n vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert true",
            " garp_master_repeat 9"
        ),
        (2, 0, true, true),
        "the global lower-priority ones; not the instance's garp_master_repeat"
    );
    assert_eq!(
        instance(
            " vrrp_garp_lower_prio_repeat 2",
            " garp_lower_prio_repeat 1\n garp_lower_prio_delay 9\n lower_prio_no_advert off\n higher_prio_send_advert"
        ),
        (1, 9, false, true),
        "the instance's own"
    );
    assert_eq!(
        instance(" vrrp_strict\n vrrp_garp_lower_prio_repeat 2", ""),
        (0, 0, true, false),
        "strict: no GARPs and no answering advert"
    );
}

#[test]
fn lvs_parts_are_warnings_and_the_vrrp_part_loads() {
    let (l, path) = load("lvs_sample.conf");
    assert_eq!(l.config.global.router_id.as_deref(), Some("LVS_DEVEL"));
    let vi = &l.config.instances[0];
    assert_eq!(vi.virtual_router_id, 50);
    assert_eq!(vi.virtual_ipaddresses[0].addr, v4("198.18.10.100"));
    assert_eq!(
        warnings(&l, &path),
        vec![
            ni("enable_traps", 5, 5),
            ni("static_ipaddress", 8, 1),
            ni("smtp_alert", 15, 5),
            ni("lvs_sync_daemon_interface", 16, 5),
            ni("virtual_server_group", 22, 1),
            ni("virtual_server", 26, 1),
        ]
    );
}

#[test]
fn include_with_glob_relative_to_the_including_file() {
    let (l, path) = load("include/keepalived.conf");
    let c = &l.config;
    assert_eq!(c.global.router_id.as_deref(), Some("inc_node"));
    // conf.d/*.conf in sorted order; README is not matched.
    let names: Vec<_> = c.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["VI_WEB", "VI_DB"]);
    let web = &c.instances[0];
    assert!(web.span.file.ends_with("include/conf.d/10-web.conf"));
    assert_eq!((web.span.line, web.span.column), (1, 15));
    assert_eq!(web.track_scripts[0].name, "chk_nginx");
    let s = c.script("chk_nginx").expect("from scripts.inc");
    assert!(s.span.file.ends_with("include/scripts.inc"));
    assert_eq!(s.command, vec!["/usr/bin/pgrep", "-x", "nginx"]);
    assert_eq!(s.weight, -10);
    assert_eq!(c.instances[1].priority, 90);
    assert_eq!(
        warnings(&l, &path),
        vec![(
            "include".to_string(),
            9,
            1,
            WarningKind::IncludeMatchedNothing
        )]
    );
}

#[test]
fn parse_str_uses_the_virtual_name() {
    let l = config::parse_str(
        "global_defs {\n  smtp_alert\n}\nvrrp_instance A {\n interface lo\n virtual_router_id 1\n}\n",
        "virtual.conf",
    )
    .expect("loads");
    assert_eq!(
        l.warnings[0].to_string(),
        "virtual.conf:2:3: smtp_alert: not implemented; ignored"
    );
    assert!(l.config.instances[0].virtual_ipaddresses.is_empty());
}
