//! Debian's prometheus-haproxy-exporter (the Go exporter lb-exporter replaces) reads
//! lbproxy's stats CSV as it reads HAProxy's: `haproxy_up` is 1 and `haproxy_server_up`
//! follows a backend going down and up.

mod common;
mod observe;

use std::time::Duration;

use observe::{curl, proxy_config, Logs, Proxy};

/// A sample of the Go exporter's output, by its exact series text.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn haproxy_exporter_reads_lbproxys_csv() {
    let Some(lab) = common::lab("haproxy_exporter_lbproxy", "hxlbp", &["a"]) else {
        return;
    };
    let ns = lab.node("a").ns();
    let dir = observe::workdir("hx-lbproxy");
    let mut web1 = Proxy::Lbproxy.backend(ns, dir.path(), 8081);
    let _web2 = Proxy::Lbproxy.backend(ns, dir.path(), 8082);
    let proxy = Proxy::Lbproxy.start(ns, dir.path(), "lbproxy.cfg", &proxy_config(""));
    let exporter = testkit::spawn(
        ns,
        [
            "prometheus-haproxy-exporter",
            "--web.listen-address=127.0.0.1:9101",
            "--haproxy.scrape-uri=http://127.0.0.1:9188/stats;csv",
        ],
    )
    .expect("prometheus-haproxy-exporter starts (Debian package)");
    let logs = Logs::default()
        .add("haproxy_exporter", &exporter)
        .add("lbproxy", &proxy);
    let web1_up = "haproxy_server_up{backend=\"be\",server=\"web1\"}";
    let wait = |series: &str, want: f64| {
        testkit::wait_until(Duration::from_secs(15), Duration::from_millis(200), || {
            sample(&curl(ns, "http://127.0.0.1:9101/metrics"), series) == Some(want)
        })
        .unwrap_or_else(|_| {
            panic!(
                "{series} should be {want}\nexporter says:\n{}\nlbproxy's CSV:\n{}\n{}",
                curl(ns, "http://127.0.0.1:9101/metrics")
                    .lines()
                    .filter(|l| l.starts_with("haproxy_up") || l.starts_with("haproxy_server_up"))
                    .collect::<Vec<_>>()
                    .join("\n"),
                curl(ns, "http://127.0.0.1:9188/stats;csv"),
                logs.text()
            )
        })
    };
    wait("haproxy_up", 1.0);
    wait(web1_up, 1.0);
    wait("haproxy_server_up{backend=\"be\",server=\"web2\"}", 1.0);
    web1.kill().expect("web1 stopped");
    wait(web1_up, 0.0);
    let _web1 = Proxy::Lbproxy.backend(ns, dir.path(), 8081);
    wait(web1_up, 1.0);
    wait("haproxy_exporter_csv_parse_failures_total", 0.0);
}
