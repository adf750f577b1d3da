//! lb-exporter watched by a real Prometheus, as an operator's dashboards watch it: the
//! Backup's `keepalived_vrrp_state` goes 1 -> 2 when the Master dies and
//! `haproxy_server_up` follows a backend stopped and started, both for our daemons (vrrpd,
//! lbproxy) and for Debian's keepalived and HAProxy; every PromQL expression of the Grafana
//! dashboard in deploy/ returns data.

mod common;
mod observe;

use std::time::Duration;

use common::{vrrp_instance, Vrrpd};
use observe::{lb_exporter, proxy_config, Logs, Prometheus, Proxy, EXPORTER_PORT};
use testkit::Signal;

const VIP: &str = "198.18.0.100/24";
const LIMIT: Duration = Duration::from_secs(15);

fn exporter_target() -> String {
    format!("127.0.0.1:{EXPORTER_PORT}")
}

#[test]
fn vrrpd_and_lbproxy_through_lb_exporter_and_vrrpd_metrics() {
    let Some(lab) = common::lab("exporter_ours", "exour", &["a", "b"]) else {
        return;
    };
    let dir = observe::workdir("exporter-ours");
    let b_ns = lab.node("b").ns();
    let conf = |prio| vrrp_instance("VI_1", 61, prio, &[VIP], "");
    let mut a = Vrrpd::on(&lab, "a", &conf(110));
    let b = Vrrpd::start_with(b_ns, &conf(100), &["--metrics-addr", "127.0.0.1:9651"])
        .expect("vrrpd on b");
    let mut web1 = Proxy::Lbproxy.backend(b_ns, dir.path(), 8081);
    let _web2 = Proxy::Lbproxy.backend(b_ns, dir.path(), 8082);
    let mut proxy = Proxy::Lbproxy.start(b_ns, dir.path(), "lbproxy.cfg", &proxy_config(""));
    let exporter = lb_exporter(
        b_ns,
        &[
            "--vrrpd.status-uri=http://127.0.0.1:9650/status",
            "--haproxy.scrape-uri=http://127.0.0.1:9188/stats;csv",
        ],
    );
    let prom = Prometheus::start(
        b_ns,
        dir.path(),
        &[
            ("lb", exporter_target()),
            ("vrrpd", "127.0.0.1:9651".into()),
        ],
    );
    let logs = Logs::default()
        .add("lb-exporter", &exporter)
        .add("lbproxy", &proxy)
        .add("vrrpd a", &a.proc)
        .add("vrrpd b", &b.proc);
    let logs = || logs.text();
    let state = |job: &str| {
        format!("keepalived_vrrp_state{{job=\"{job}\",iname=\"VI_1\",vrid=\"61\",ip_address=\"{VIP}\"}}")
    };
    let server_up = |server: &str| {
        format!("haproxy_server_up{{job=\"lb\",backend=\"be\",server=\"{server}\"}}")
    };

    // Steady state: b is Backup, both backends up, every source up.
    prom.wait_for(&state("lb"), 1.0, LIMIT, &logs);
    prom.wait_for(&state("vrrpd"), 1.0, LIMIT, &logs);
    prom.wait_for(&server_up("web1"), 1.0, LIMIT, &logs);
    prom.wait_for(&server_up("web2"), 1.0, LIMIT, &logs);
    prom.wait_for("keepalived_up{job=\"lb\"}", 1.0, LIMIT, &logs);
    prom.wait_for("haproxy_up{job=\"lb\"}", 1.0, LIMIT, &logs);

    // A backend stops: its server goes down, the other stays up; it comes back.
    web1.kill().expect("web1 stopped");
    prom.wait_for(&server_up("web1"), 0.0, LIMIT, &logs);
    assert_eq!(prom.value(&server_up("web2")), Some(1.0));
    let _web1 = Proxy::Lbproxy.backend(b_ns, dir.path(), 8081);
    prom.wait_for(&server_up("web1"), 1.0, LIMIT, &logs);

    // The Master dies: b's state goes to 2 in lb-exporter's and in vrrpd's own metrics.
    // (Under load b may have been Master for a moment at start, before it heard a.)
    let became = "keepalived_become_master_total{job=\"lb\",iname=\"VI_1\"}";
    let terms = prom.value(became).expect("become_master published");
    a.proc.kill().expect("a's vrrpd killed");
    prom.wait_for(&state("lb"), 2.0, LIMIT, &logs);
    prom.wait_for(&state("vrrpd"), 2.0, LIMIT, &logs);
    prom.wait_for(became, terms + 1.0, LIMIT, &logs);
    // One series across the failover: the counters carry no state label.
    assert_eq!(
        prom.query("keepalived_advert_rcvd_total{job=\"lb\"}").len(),
        1
    );

    // The proxy stops: only its source goes down; the VRRP side is still published.
    proxy.signal(Signal::SIGKILL).expect("lbproxy killed");
    prom.wait_for("haproxy_up{job=\"lb\"}", 0.0, LIMIT, &logs);
    assert_eq!(prom.value("keepalived_up{job=\"lb\"}"), Some(1.0));
    assert_eq!(prom.value(&state("lb")), Some(2.0));
}

fn keepalived_conf(priority: u8) -> String {
    let mut i = testkit::VrrpInstance::new("VI_1", "eth0", 62, priority);
    i.vips.push(VIP.into());
    i.version = Some(3);
    i.advert_int = "0.1".into();
    testkit::KeepalivedConf {
        instances: vec![i],
        ..Default::default()
    }
    .render()
}

#[test]
fn keepalived_and_haproxy_through_lb_exporter_and_the_dashboards_queries() {
    let Some(lab) = common::lab("exporter_theirs", "exthr", &["a", "b"]) else {
        return;
    };
    let dir = observe::workdir("exporter-theirs");
    let b_ns = lab.node("b").ns();
    let mut a =
        testkit::keepalived(lab.node("a").ns(), &keepalived_conf(110)).expect("keepalived a");
    let b = testkit::keepalived(b_ns, &keepalived_conf(100)).expect("keepalived b");
    // testkit's keepalived writes its pid files and its dumps (TMPDIR) in its work dir.
    let b_dir = b.work_dir().to_path_buf();
    let b_pid = b_dir.join("keepalived.pid").display().to_string();
    let mut web1 = Proxy::Haproxy.backend(b_ns, dir.path(), 8081);
    let _web2 = Proxy::Haproxy.backend(b_ns, dir.path(), 8082);
    let socket = dir.path().join("admin.sock");
    let global = format!("    stats socket {} mode 600 level admin", socket.display());
    let proxy = Proxy::Haproxy.start(b_ns, dir.path(), "haproxy.cfg", &proxy_config(&global));
    let exporter = lb_exporter(
        b_ns,
        &[
            &format!("--keepalived.pid-path={b_pid}"),
            &format!("--keepalived.dump-dir={}", b_dir.display()),
            &format!("--haproxy.scrape-uri=unix:{}", socket.display()),
        ],
    );
    let prom = Prometheus::start(b_ns, dir.path(), &[("lb", exporter_target())]);
    let logs = Logs::default()
        .add("lb-exporter", &exporter)
        .add("haproxy", &proxy)
        .add("keepalived a", &a)
        .add("keepalived b", &b);
    let logs = || logs.text();
    let state = format!("keepalived_vrrp_state{{iname=\"VI_1\",vrid=\"62\",ip_address=\"{VIP}\"}}");
    let server_up =
        |server: &str| format!("haproxy_server_up{{backend=\"be\",server=\"{server}\"}}");

    prom.wait_for(&state, 1.0, LIMIT, &logs);
    prom.wait_for(&server_up("web1"), 1.0, LIMIT, &logs);
    prom.wait_for("keepalived_up", 1.0, LIMIT, &logs);

    // Traffic for the rate panels, then every query of the dashboard returns data.
    for _ in 0..20 {
        observe::curl(b_ns, "http://127.0.0.1:8080/");
    }
    std::thread::sleep(Duration::from_secs(3));
    for (title, expr) in observe::dashboard_queries() {
        let result = prom.query(&expr);
        assert!(
            !result.is_empty(),
            "panel {title:?}: {expr} returns no data\n{}",
            logs()
        );
    }

    // The same keepalived read through its JSON dump (Debian's is built with JSON support).
    let json = observe::lb_exporter_on(
        b_ns,
        9656,
        &[
            &format!("--keepalived.pid-path={b_pid}"),
            &format!("--keepalived.dump-dir={}", b_dir.display()),
            "--keepalived.json",
        ],
    );
    let metrics = observe::curl(b_ns, "http://127.0.0.1:9656/metrics");
    let vip_state = format!(
        "keepalived_vrrp_state{{iname=\"VI_1\",intf=\"eth0\",vrid=\"62\",ip_address=\"{VIP}\"}} 1"
    );
    assert!(
        metrics.contains("keepalived_up 1\n") && metrics.contains(&vip_state),
        "JSON mode:\n{metrics}\n{}",
        json.log()
    );
    drop(json);

    web1.kill().expect("web1 stopped");
    prom.wait_for(&server_up("web1"), 0.0, LIMIT, &logs);
    let _web1 = Proxy::Haproxy.backend(b_ns, dir.path(), 8081);
    prom.wait_for(&server_up("web1"), 1.0, LIMIT, &logs);

    // keepalived's crash: the whole process group, so that its VRRP child sends nothing.
    let became = "keepalived_become_master_total{iname=\"VI_1\"}";
    let terms = prom.value(became).expect("become_master published");
    a.signal_group(Signal::SIGKILL)
        .expect("a's keepalived killed");
    prom.wait_for(&state, 2.0, LIMIT, &logs);
    prom.wait_for(became, terms + 1.0, LIMIT, &logs);
}
