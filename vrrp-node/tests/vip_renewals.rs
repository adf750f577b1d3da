//! A Master's VIP renewals, sent in one batch without acknowledgements (`vip::renew`),
//! against the kernel of a network namespace the test creates: done when the send returns,
//! and a refused one named, without losing the others of its batch.

use std::net::{IpAddr, Ipv4Addr};

use testkit::Lab;
use vrrp_node::vip::{RenewalBatch, VipManager, VirtualAddress};

fn vip(last: u8, ifindex: u32, lifetime: u32) -> VirtualAddress {
    VirtualAddress {
        addr: IpAddr::V4(Ipv4Addr::new(198, 18, 5, last)),
        prefix_len: 32,
        ifindex,
        broadcast: None,
        scope: 0,
        label: None,
        lifetime: Some(lifetime),
    }
}

/// The valid lifetime the kernel gives `addr` on `ns`'s eth0, in seconds.
fn valid_lifetime(ns: &str, addr: &str) -> Option<u64> {
    let out = testkit::exec_ok(ns, ["ip", "-j", "addr", "show", "dev", "eth0"]).ok()?;
    let links: serde_json::Value = serde_json::from_str(&out).ok()?;
    links
        .as_array()?
        .iter()
        .flat_map(|l| l["addr_info"].as_array().into_iter().flatten())
        .find(|a| a["local"] == addr)?["valid_life_time"]
        .as_u64()
}

#[test]
fn a_batch_of_renewals_is_done_when_sent_and_a_refused_one_is_named() {
    if !testkit::require_root("a_batch_of_renewals_is_done_when_sent_and_a_refused_one_is_named") {
        return;
    }
    let lab = Lab::builder("vren").node("n").build().expect("lab");
    let ns = lab.node("n").ns().to_owned();
    let refused = testkit::in_netns(&ns, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let vips = VipManager::connect().expect("netlink");
            let eth0 = nix::net::if_::if_nametoindex("eth0").expect("eth0");
            for last in [1, 2] {
                vips.add(&vip(last, eth0, 5)).await.expect("install");
            }
            assert!(valid_lifetime(&ns, "198.18.5.1").is_some_and(|s| s <= 5));
            let mut batch = RenewalBatch::default();
            vips.renew(&vip(1, eth0, 600), "VI_1", &mut batch);
            // An interface index no interface has: the kernel refuses this one (ENODEV).
            vips.renew(&vip(3, 999_999, 600), "VI_GONE", &mut batch);
            vips.renew(&vip(2, eth0, 600), "VI_2", &mut batch);
            vips.send_renewals(batch)
        })
    })
    .expect("namespace");
    // Renewed when the send returned (the kernel did them inside it): read at once.
    for addr in ["198.18.5.1", "198.18.5.2"] {
        let secs = valid_lifetime(&ns, addr);
        assert!(
            secs.is_some_and(|s| s > 500),
            "{addr}'s lifetime restarted at 600 s: {secs:?}"
        );
    }
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].instance, "VI_GONE");
    assert_eq!(refused[0].vip.addr.to_string(), "198.18.5.3");
    assert_eq!(refused[0].error.raw_os_error(), Some(libc::ENODEV));
    assert_eq!(
        valid_lifetime(&ns, "198.18.5.3"),
        None,
        "nothing installed for it"
    );
}
