//! The benchmark's helpers: `tk-http` answers with its name, `vip-poller` measures the gap a
//! client sees when the service goes away and comes back.

use std::time::Duration;

use testkit::{wait_until, Lab};

const HTTP: &str = env!("CARGO_BIN_EXE_tk-http");
const POLLER: &str = env!("CARGO_BIN_EXE_vip-poller");

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let k = format!("\"{key}\":");
    let rest = &json[json.find(&k).unwrap_or_else(|| panic!("{key} in {json}")) + k.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn poller_measures_the_outage_of_a_responder() {
    if !testkit::require_root("poller_measures_the_outage_of_a_responder") {
        return;
    }
    let lab = Lab::builder("bins")
        .node("srv")
        .node("cli")
        .build()
        .expect("lab");
    let (srv, cli) = (lab.node("srv"), lab.node("cli"));
    let listen = format!("{}:8080", srv.ipv4());
    let start_http = || {
        let p = srv
            .spawn([HTTP, "--listen", &listen, "--name", "srv1"])
            .expect("tk-http");
        wait_until(Duration::from_secs(3), Duration::from_millis(5), || {
            p.log().contains("listening")
        })
        .expect("tk-http listening");
        p
    };
    let mut http = start_http();
    let poller = cli
        .spawn([
            POLLER,
            "--target",
            &listen,
            "--interval-ms",
            "10",
            "--timeout-ms",
            "20",
            "--duration-ms",
            "1500",
        ])
        .expect("poller");
    std::thread::sleep(Duration::from_millis(400));
    http.kill().expect("kill tk-http");
    std::thread::sleep(Duration::from_millis(300));
    let _http = start_http();
    let mut poller = poller;
    let st = poller
        .wait_timeout(Duration::from_secs(5))
        .expect("wait")
        .expect("poller ends by itself");
    assert!(st.success(), "{}", poller.log());
    let out = poller.log();
    let gap: f64 = field(&out, "longest_gap_ms").parse().expect("number");
    assert!((280.0..700.0).contains(&gap), "gap {gap} ms: {out}");
    assert_eq!(field(&out, "before"), "\"srv1\"");
    assert_eq!(field(&out, "after"), "\"srv1\"");
    let ok: u64 = field(&out, "ok").parse().expect("number");
    // ~1500 ms at 10 ms minus the ~300 ms outage.
    assert!(ok > 60, "{out}");
    let tail: f64 = field(&out, "tail_gap_ms").parse().expect("number");
    assert!(tail < 100.0, "{out}");
}
