//! Tests of the lab itself: reachability, cleanup, link down, multicast blocking, captures,
//! process guards. Each test skips without root (and fails without root when CI=true).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use testkit::{wait_until, Capture, Lab, Signal};

/// A UDP socket bound in `node`'s namespace.
fn udp_in(node: &testkit::Node, bind: SocketAddr) -> UdpSocket {
    let s = node
        .run_in(move || UdpSocket::bind(bind))
        .expect("enter netns")
        .expect("bind udp");
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("read timeout");
    s
}

/// Sends `tries` datagrams (one each 100 ms) from `tx` to `to` and says whether `rx` got one.
/// Bounded: `tries` × 300 ms at most.
fn delivered(tx: &UdpSocket, rx: &UdpSocket, to: SocketAddr, tries: u32) -> bool {
    let mut buf = [0u8; 64];
    for i in 0..tries {
        let msg = format!("probe {i}");
        tx.send_to(msg.as_bytes(), to).expect("send_to");
        if let Ok((n, _)) = rx.recv_from(&mut buf) {
            if buf[..n].starts_with(b"probe") {
                return true;
            }
        }
    }
    false
}

fn ns_list() -> String {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn two_nodes_reach_each_other_v4_and_v6() {
    if !testkit::require_root("two_nodes_reach_each_other_v4_and_v6") {
        return;
    }
    let lab = Lab::builder("reach")
        .node("a")
        .node("b")
        .deterministic_macs()
        .build()
        .expect("lab");
    let (a, b) = (lab.node("a"), lab.node("b"));
    assert_eq!(a.ipv4().to_string(), "198.18.0.1");
    assert_eq!(b.ipv6().to_string(), "fd00:198:18::2");
    assert_eq!(a.mac(), "02:00:c6:12:00:01");
    assert_eq!(b.mac(), "02:00:c6:12:00:02");
    let addrs = b.addresses().expect("addresses");
    assert!(addrs.contains(&IpAddr::from(b.ipv4())), "{addrs:?}");
    assert!(addrs.contains(&IpAddr::from(b.ipv6())), "{addrs:?}");
    assert!(!addrs.contains(&IpAddr::from(a.ipv4())), "{addrs:?}");

    // v4
    let rx = udp_in(b, "0.0.0.0:7001".parse().expect("addr"));
    let tx = udp_in(a, "0.0.0.0:0".parse().expect("addr"));
    assert!(delivered(
        &tx,
        &rx,
        SocketAddr::new(b.ipv4().into(), 7001),
        10
    ));
    // v6 (nodad: usable at once)
    let rx6 = udp_in(b, "[::]:7002".parse().expect("addr"));
    let tx6 = udp_in(a, "[::]:0".parse().expect("addr"));
    assert!(delivered(
        &tx6,
        &rx6,
        SocketAddr::new(b.ipv6().into(), 7002),
        10
    ));
    // A socket in the host namespace does not see the lab: nothing on the host has the
    // address, so a datagram to it from the lab's B-side socket is not what we receive.
    assert_ne!(a.ns(), b.ns());
}

#[test]
fn exec_and_addresses_in_a_node() {
    if !testkit::require_root("exec_and_addresses_in_a_node") {
        return;
    }
    let lab = Lab::builder("exec")
        .node_with_addrs("x", &["198.19.1.1/16", "fd00:198:18::77/64"])
        .build()
        .expect("lab");
    let x = lab.node("x");
    let out = x
        .exec_ok(["ip", "-o", "addr", "show", "dev", "eth0"])
        .expect("ip");
    assert!(out.contains("198.19.1.1/16"), "{out}");
    let err = x.exec_ok(["ip", "link", "show", "dev", "nosuchif"]);
    assert!(err.is_err());
    let addrs = x.addresses().expect("addresses");
    assert!(addrs.contains(&"198.19.1.1".parse::<IpAddr>().expect("ip")));
    // Link-local is there too, and usable (no DAD).
    assert!(addrs
        .iter()
        .any(|a| matches!(a, IpAddr::V6(v6) if v6.segments()[0] == 0xfe80)));
    let out = x
        .exec_ok(["ip", "-6", "addr", "show", "dev", "eth0"])
        .expect("ip");
    assert!(!out.contains("tentative"), "{out}");
    // Addresses outside the test ranges are refused.
    let bad = Lab::builder("exec")
        .node_with_addrs("y", &["10.0.0.1/8"])
        .build();
    assert!(bad.is_err());
    let bad = Lab::builder("exec").node("has-dash").build();
    assert!(bad.is_err());
}

#[test]
fn cleanup_removes_every_namespace_even_on_panic() {
    if !testkit::require_root("cleanup_removes_every_namespace_even_on_panic") {
        return;
    }
    // Normal drop, with a process still running inside.
    let lab = Lab::builder("clean")
        .node("a")
        .node("b")
        .build()
        .expect("lab");
    let names = lab.namespaces();
    assert_eq!(names.len(), 3);
    let list = ns_list();
    for n in &names {
        assert!(list.contains(n.as_str()), "{n} missing from {list}");
    }
    // A process that is not held by any guard: the lab kills it.
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.node("a").ns(),
            "sh",
            "-c",
            "sleep 30 >/dev/null 2>&1 & echo $!",
        ])
        .output()
        .expect("spawn");
    let orphan: i32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid");
    drop(lab);
    let list = ns_list();
    for n in &names {
        assert!(!list.contains(n.as_str()), "{n} left behind: {list}");
    }
    wait_until(Duration::from_secs(2), Duration::from_millis(10), || {
        !std::path::Path::new(&format!("/proc/{orphan}")).exists()
            || std::fs::read_to_string(format!("/proc/{orphan}/stat"))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
    })
    .expect("orphan sleep killed");

    // Drop during a panic.
    let names = std::panic::catch_unwind(|| {
        let lab = Lab::builder("clean").node("c").build().expect("lab");
        let names = lab.namespaces();
        std::panic::panic_any(names);
    })
    .expect_err("panicked");
    let names = names.downcast::<Vec<String>>().expect("payload");
    assert_eq!(names.len(), 2);
    let list = ns_list();
    for n in names.iter() {
        assert!(
            !list.contains(n.as_str()),
            "{n} left behind after panic: {list}"
        );
    }
}

#[test]
fn link_down_stops_traffic_and_up_restores_it() {
    if !testkit::require_root("link_down_stops_traffic_and_up_restores_it") {
        return;
    }
    let lab = Lab::builder("link")
        .node("a")
        .node("b")
        .build()
        .expect("lab");
    let (a, b) = (lab.node("a"), lab.node("b"));
    let rx = udp_in(b, "0.0.0.0:7003".parse().expect("addr"));
    let tx = udp_in(a, "0.0.0.0:0".parse().expect("addr"));
    let to = SocketAddr::new(b.ipv4().into(), 7003);
    assert!(delivered(&tx, &rx, to, 10));

    // Node side, admin down.
    a.set_link(false).expect("down");
    // Sending on a down link may fail at once (no route); either way nothing arrives.
    let mut buf = [0u8; 64];
    for _ in 0..3 {
        let _ = tx.send_to(b"probe", to);
        assert!(
            rx.recv_from(&mut buf).is_err(),
            "got traffic over a down link"
        );
    }
    a.set_link(true).expect("up");
    // IPv6 addresses survive (keep_addr_on_down).
    assert!(a.has_address(a.ipv6().into()));
    assert!(delivered(&tx, &rx, to, 20), "traffic back after link up");

    // Bridge side down: B sees no carrier.
    lab.set_port("b", false).expect("port down");
    let out = b
        .exec_ok(["ip", "link", "show", "dev", "eth0"])
        .expect("ip");
    assert!(out.contains("NO-CARRIER"), "{out}");
    for _ in 0..3 {
        let _ = tx.send_to(b"probe", to);
        assert!(
            rx.recv_from(&mut buf).is_err(),
            "got traffic over a cut cable"
        );
    }
    lab.set_port("b", true).expect("port up");
    assert!(delivered(&tx, &rx, to, 20), "traffic back after port up");
}

#[test]
fn block_multicast_blocks_multicast_but_not_unicast() {
    if !testkit::require_root("block_multicast_blocks_multicast_but_not_unicast") {
        return;
    }
    let lab = Lab::builder("mcast")
        .node("a")
        .node("b")
        .build()
        .expect("lab");
    let (a, b) = (lab.node("a"), lab.node("b"));
    let group: std::net::Ipv4Addr = "224.0.0.18".parse().expect("group");
    let rx = udp_in(b, "0.0.0.0:7004".parse().expect("addr"));
    rx.join_multicast_v4(&group, &b.ipv4()).expect("join");
    // Bound to A's address: Linux sends multicast out of the interface owning it.
    let tx = udp_in(a, SocketAddr::new(a.ipv4().into(), 0));
    let mcast = SocketAddr::new(group.into(), 7004);
    let unicast = SocketAddr::new(b.ipv4().into(), 7004);
    assert!(delivered(&tx, &rx, mcast, 10), "multicast before blocking");

    lab.set_multicast(false).expect("block");
    assert!(
        !delivered(&tx, &rx, mcast, 5),
        "multicast got through the block"
    );
    assert!(delivered(&tx, &rx, unicast, 10), "unicast blocked too");
    // IPv6 unicast still works (static neighbours stand in for multicast ND).
    let rx6 = udp_in(b, "[::]:7005".parse().expect("addr"));
    let tx6 = udp_in(a, "[::]:0".parse().expect("addr"));
    assert!(delivered(
        &tx6,
        &rx6,
        SocketAddr::new(b.ipv6().into(), 7005),
        10
    ));

    lab.set_multicast(true).expect("unblock");
    assert!(delivered(&tx, &rx, mcast, 10), "multicast after unblocking");
}

#[test]
fn capture_sees_the_frames_sent() {
    if !testkit::require_root("capture_sees_the_frames_sent") {
        return;
    }
    let lab = Lab::builder("cap")
        .node("a")
        .node("b")
        .build()
        .expect("lab");
    let (a, b) = (lab.node("a"), lab.node("b"));
    let cap = Capture::start(b.ns(), "eth0", &["udp", "port", "7006"]).expect("tcpdump");
    let rx = udp_in(b, "0.0.0.0:7006".parse().expect("addr"));
    let tx = udp_in(a, "0.0.0.0:0".parse().expect("addr"));
    assert!(delivered(
        &tx,
        &rx,
        SocketAddr::new(b.ipv4().into(), 7006),
        10
    ));
    let pcap = cap.stop().expect("stop");
    assert_eq!(pcap.linktype, 1);
    let f = pcap
        .frames
        .iter()
        .find(|f| f.ipv4_protocol() == Some(17))
        .unwrap_or_else(|| panic!("no UDP frame in {:?}", pcap.frames));
    assert_eq!(f.ipv4_addrs(), Some((a.ipv4(), b.ipv4())));
    let udp = f.ipv4_payload().expect("udp");
    assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 7006);
    assert!(f.ts.as_secs() > 1_600_000_000);
}

#[test]
fn process_guard_signals_waits_and_kills() {
    if !testkit::require_root("process_guard_signals_waits_and_kills") {
        return;
    }
    let lab = Lab::builder("proc").node("a").build().expect("lab");
    let a = lab.node("a");
    let mut p = a
        .spawn([
            "sh",
            "-c",
            "echo started; trap 'echo got-term; exit 3' TERM; while :; do sleep 0.05; done",
        ])
        .expect("spawn");
    p.wait_for_log("started", Duration::from_secs(3))
        .expect("started");
    assert!(p
        .wait_for_log("never printed", Duration::from_millis(50))
        .is_err());
    assert!(p.is_running());
    assert!(p
        .wait_timeout(Duration::from_millis(100))
        .expect("wait")
        .is_none());
    let st = p
        .stop(Signal::SIGTERM, Duration::from_secs(3))
        .expect("stop")
        .expect("exited");
    assert_eq!(st.code(), Some(3));
    assert!(p.log().contains("got-term"), "{}", p.log());

    // Group kill reaches children; drop of a running guard kills it.
    let mut p = a
        .spawn(["sh", "-c", "sleep 30 & echo child $!; wait"])
        .expect("spawn");
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        p.log().contains("child")
    })
    .expect("child started");
    let child: i32 = p
        .log()
        .trim()
        .strip_prefix("child ")
        .expect("child line")
        .parse()
        .expect("pid");
    let t = Instant::now();
    p.signal_group(Signal::SIGKILL).expect("killpg");
    assert!(p
        .wait_timeout(Duration::from_secs(2))
        .expect("wait")
        .is_some());
    wait_until(Duration::from_secs(2), Duration::from_millis(10), || {
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    })
    .expect("child killed with the group");
    assert!(t.elapsed() < Duration::from_secs(3));

    let p = a.spawn(["sleep", "30"]).expect("spawn");
    let pid = p.pid();
    drop(p);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn stale_namespaces_of_dead_processes_are_swept() {
    if !testkit::require_root("stale_namespaces_of_dead_processes_are_swept") {
        return;
    }
    // A pid that is surely gone: a child we started and reaped.
    let mut child = std::process::Command::new("true").spawn().expect("true");
    let dead = child.id();
    child.wait().expect("wait");
    assert!(!std::path::Path::new(&format!("/proc/{dead}")).exists());
    let stale = format!("tk-sweep-{dead}-0-a");
    let alive = format!("tk-sweep-{}-999-a", std::process::id());
    for n in [&stale, &alive] {
        let st = std::process::Command::new("ip")
            .args(["netns", "add", n])
            .status()
            .expect("ip netns add");
        assert!(st.success());
    }
    testkit::sweep_stale();
    let list = ns_list();
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &alive])
        .status();
    assert!(!list.contains(&stale), "{stale} not swept: {list}");
    assert!(
        list.contains(&alive),
        "{alive} of a live process swept: {list}"
    );
}
