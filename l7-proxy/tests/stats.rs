//! The statistics as HAProxy's tools read them: the CSV in HAProxy 2.6's column order
//! filled from live counters, the HTML page, and `use-service prometheus-exporter` under
//! the names of HAProxy's built-in exporter (checked against what Debian's HAProxy 2.6
//! serves, in `testdata/`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;

fn testdata(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A CSV read by column name: `row(px, sv)[name]`.
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn parse(text: &str) -> Csv {
        let mut lines = text.lines();
        let header = lines.next().unwrap().trim_start_matches("# ");
        let split = |l: &str| l.split(',').map(str::to_string).collect::<Vec<_>>();
        Csv {
            header: split(header),
            rows: lines.map(split).collect(),
        }
    }

    fn row(&self, px: &str, sv: &str) -> HashMap<&str, &str> {
        let r = self
            .rows
            .iter()
            .find(|f| f[0] == px && f[1] == sv)
            .unwrap_or_else(|| panic!("no row {px}/{sv}"));
        assert_eq!(
            r.len(),
            self.header.len(),
            "{px}/{sv}: one value per column"
        );
        self.header
            .iter()
            .map(String::as_str)
            .zip(r.iter().map(String::as_str))
            .collect()
    }
}

fn num(v: &str) -> u64 {
    v.parse().unwrap_or_else(|_| panic!("not a number: {v:?}"))
}

/// `fe` in front of `be` (`a` up, `dead` refusing, `c` a backup without checks), and a
/// `listen stats` with the page and the Prometheus exporter.
struct Site {
    p: TestProxy,
    _a: TestServer,
}

impl Site {
    async fn start(stats_lines: &str) -> Site {
        let a = TestServer::start("a", Behaviour::Health).await;
        let dead = TestServer::start("dead", Behaviour::Name).await;
        let dead_addr = dead.addr;
        drop(dead);
        let cfg = format!(
            "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n http-request deny if {{ path /forbidden }}\n default_backend be\n\
             backend be\n option httpchk GET /health\n retries 1\n\
             server a {a} check inter 50ms\n server dead {dead_addr} check inter 50ms\n server c {a} backup\n\
             listen stats\n bind 127.0.0.1:0\n stats enable\n stats uri /stats\n{stats_lines}\
             http-request use-service prometheus-exporter if {{ path /metrics }}\n",
            a = a.addr
        );
        let p = proxy(&cfg).await;
        let be = p.backend("be").await.unwrap();
        let t0 = std::time::Instant::now();
        while be.servers[1].is_up() {
            assert!(t0.elapsed() < T, "the dead server goes down");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Site { p, _a: a }
    }

    async fn get(&self, fe: &str, path: &str) -> Response {
        get_once(addr(&self.p, fe), path).await.unwrap()
    }

    async fn csv(&self) -> Csv {
        let r = self.get("stats", "/stats;csv").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/plain"));
        Csv::parse(&r.text())
    }
}

#[test]
fn the_csv_header_is_haproxy_26s_through_agg_check_status() {
    let theirs = testdata("exporters/haproxy-2.6/stats.csv");
    let theirs = theirs.lines().next().unwrap();
    let ours = l7_proxy::stats::fields::header();
    let ours = ours.trim_end();
    assert!(ours.ends_with("agg_check_status,"), "{ours}");
    assert!(
        theirs.starts_with(ours),
        "ours:\n{ours}\nHAProxy 2.6:\n{theirs}"
    );
}

#[tokio::test]
async fn the_csv_counts_requests_responses_errors_and_checks() {
    let s = Site::start("").await;
    for _ in 0..4 {
        assert_eq!(s.get("fe", "/health").await.status, 200);
    }
    assert_eq!(s.get("fe", "/missing").await.status, 404);
    assert_eq!(s.get("fe", "/forbidden").await.status, 403);
    let mut c = Client::connect(addr(&s.p, "fe")).await;
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")
        .await;
    assert_eq!(bounded(c.response(false)).await.unwrap().status, 400);

    let csv = s.csv().await;
    let fe = csv.row("fe", "FRONTEND");
    assert_eq!(fe["status"], "OPEN");
    assert_eq!(fe["type"], "0");
    assert_eq!(num(fe["stot"]), 7, "one connection per request");
    assert_eq!(num(fe["req_tot"]), 7);
    assert_eq!(num(fe["hrsp_2xx"]), 4);
    assert_eq!(num(fe["hrsp_4xx"]), 3);
    assert_eq!(num(fe["dreq"]), 1);
    assert_eq!(num(fe["ereq"]), 1);
    assert!(
        num(fe["bin"]) > 7 * 30 && num(fe["bout"]) > 5 * 60,
        "{fe:?}"
    );
    assert!(num(fe["req_rate_max"]) >= 1);
    assert_eq!(fe["mode"], "http");
    assert_eq!(num(fe["conn_tot"]), 7);

    let be = csv.row("be", "BACKEND");
    assert_eq!(be["status"], "UP");
    assert_eq!((be["act"], be["bck"]), ("1", "1"));
    assert_eq!(
        num(be["req_tot"]),
        5,
        "the denied and the bad request never got here"
    );
    assert_eq!(num(be["hrsp_2xx"]), 4);
    assert_eq!(num(be["hrsp_4xx"]), 1);
    assert_eq!(be["algo"], "roundrobin");
    assert_eq!(num(be["lbtot"]), 5);
    assert!(num(be["ttime_max"]) >= num(be["ttime"]));

    let a = csv.row("be", "a");
    assert_eq!(a["status"], "UP");
    assert_eq!(a["check_status"], "L7OK");
    assert_eq!(a["check_code"], "200");
    assert_eq!(a["check_desc"], "Layer7 check passed");
    assert_eq!(
        (a["check_rise"], a["check_fall"], a["check_health"]),
        ("2", "3", "4")
    );
    assert_eq!(num(a["stot"]), 5);
    assert_eq!(num(a["lbtot"]), 5);
    assert_eq!(num(a["hrsp_2xx"]), 4);
    assert_eq!(a["sid"], "1");
    assert_eq!(a["addr"], s._a.addr.to_string());
    assert_ne!(a["lastsess"], "-1");
    assert_eq!(num(a["reuse"]) + num(a["connect"]), 5);

    let dead = csv.row("be", "dead");
    assert_eq!(dead["status"], "DOWN");
    assert_eq!(dead["check_status"], "L4CON");
    assert_eq!(dead["check_desc"], "Layer4 connection problem");
    assert_eq!(
        num(dead["chkdown"]),
        1,
        "down once, on the first failed check"
    );
    assert!(num(dead["chkfail"]) >= 1);
    assert_eq!(dead["check_health"], "0");
    assert_eq!(dead["lastsess"], "-1");
    assert_eq!(dead["stot"], "0");

    let c = csv.row("be", "c");
    assert_eq!(c["status"], "no check");
    assert_eq!((c["act"], c["bck"]), ("0", "1"));
    assert_eq!(c["check_status"], "", "unknown is empty");

    // A `listen` without servers is UP, as HAProxy shows its own stats proxy.
    let stats = csv.row("stats", "BACKEND");
    assert_eq!((stats["status"], stats["downtime"]), ("UP", "0"));
}

#[tokio::test]
async fn connection_errors_and_retries_count_on_the_server_that_failed() {
    let dead = TestServer::start("dead", Behaviour::Name).await;
    let dead_addr = dead.addr;
    drop(dead);
    let p = proxy(&format!(
        "{DEFAULTS}frontend fe\n bind 127.0.0.1:0\n default_backend be\nbackend be\n retries 2\n server d {dead_addr}\n\
         listen stats\n bind 127.0.0.1:0\n stats uri /stats\n"
    ))
    .await;
    assert_eq!(get_once(addr(&p, "fe"), "/").await.unwrap().status, 503);
    let csv = Csv::parse(
        &get_once(addr(&p, "stats"), "/stats;csv")
            .await
            .unwrap()
            .text(),
    );
    let d = csv.row("be", "d");
    assert_eq!(num(d["econ"]), 3, "the try and its two retries");
    assert_eq!(num(d["wretr"]), 2);
    assert_eq!(num(d["hrsp_5xx"]), 1);
    assert_eq!(num(csv.row("be", "BACKEND")["econ"]), 3);
    assert_eq!(num(csv.row("fe", "FRONTEND")["hrsp_5xx"]), 1);
}

/// Every name in a Prometheus text exposition, with its `# TYPE`.
fn families(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (name, kind) = l.split_once(' ').unwrap();
            (name.to_string(), kind.to_string())
        })
        .collect()
}

#[tokio::test]
async fn the_exporter_uses_haproxys_names_and_types_only() {
    let s = Site::start("").await;
    assert_eq!(s.get("fe", "/health").await.status, 200);
    let r = s.get("stats", "/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4"));
    let ours = r.text();
    let haproxys = families(&testdata("haproxy/builtin-exporter-2.6/metrics.txt"));
    let mine = families(&ours);
    let invented: Vec<_> = mine.difference(&haproxys).collect();
    assert!(invented.is_empty(), "not HAProxy's: {invented:?}");
    // What dashboards for HAProxy's exporter graph.
    for line in [
        "haproxy_frontend_http_requests_total{proxy=\"fe\"} 1",
        "haproxy_frontend_http_responses_total{proxy=\"fe\",code=\"2xx\"} 1",
        "haproxy_backend_status{proxy=\"be\",state=\"UP\"} 1",
        "haproxy_backend_active_servers{proxy=\"be\"} 1",
        "haproxy_server_status{proxy=\"be\",server=\"a\",state=\"UP\"} 1",
        "haproxy_server_status{proxy=\"be\",server=\"dead\",state=\"DOWN\"} 1",
        "haproxy_server_status{proxy=\"be\",server=\"c\",state=\"UP\"} 1",
        "haproxy_server_check_status{proxy=\"be\",server=\"dead\",state=\"L4CON\"} 1",
        "haproxy_server_check_status{proxy=\"be\",server=\"a\",state=\"L7OK\"} 1",
        "haproxy_server_sessions_total{proxy=\"be\",server=\"a\"} 1",
        "haproxy_process_nbproc 1",
    ] {
        assert!(ours.contains(line), "missing {line}\n{ours}");
    }
    // No sample for what a row leaves empty: `c` has no check.
    assert!(!ours.contains("haproxy_server_check_status{proxy=\"be\",server=\"c\""));
    // Every sample line is `name{labels} value` with a number.
    for l in ours.lines().filter(|l| !l.starts_with('#')) {
        let v = l.rsplit(' ').next().unwrap();
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
}

#[tokio::test]
async fn the_page_refreshes_hides_its_version_and_shows_legends() {
    let s = Site::start(" stats refresh 7s\n stats hide-version\n stats show-legends\n").await;
    let r = s.get("stats", "/stats").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("refresh"), Some("7"));
    let page = r.text();
    assert!(!page.contains(env!("CARGO_PKG_VERSION")), "hide-version");
    assert!(page.contains("class=legend"), "show-legends");
    assert!(
        page.contains("<tr class=up><td class=name>a</td>"),
        "{page}"
    );
    assert!(page.contains("<tr class=down><td class=name>dead</td>"));
    assert!(page.contains("<tr class=nocheck><td class=name>c</td>"));
    assert!(page.contains("L4CON"), "the last check");
    assert!(page.contains("title=\"Connection refused\""), "its detail");
    assert!(page.contains("CSV export"));
    // `;norefresh` stops it; the CSV carries it as HAProxy's does.
    let r = s.get("stats", "/stats;norefresh").await;
    assert_eq!(r.header("refresh"), None);
    assert!(r.text().contains("Enable refresh"));
    assert_eq!(
        s.get("stats", "/stats;csv").await.header("refresh"),
        Some("7")
    );
}

#[tokio::test]
async fn the_page_shows_its_version_unless_hidden() {
    let s = Site::start("").await;
    let r = s.get("stats", "/stats").await;
    assert_eq!(r.header("refresh"), None);
    let page = r.text();
    assert!(page.contains(&format!("lbproxy {}", env!("CARGO_PKG_VERSION"))));
    assert!(!page.contains("class=legend"));
}
