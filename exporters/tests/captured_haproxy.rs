//! HAProxy 2.6's stats CSV (captured from Debian's haproxy with testdata's haproxy.cfg, over
//! HTTP and over the CLI socket) published as prometheus-haproxy-exporter 0.14 publishes it
//! (its output on the same CSV, captured too).

mod common;

use common::{captured, parse_exposition};
use exporters::haproxy::{self, csv};
use exporters::text::Exposition;

fn export(text: &str) -> (String, haproxy::ExportSummary) {
    let mut out = Exposition::new();
    let summary = haproxy::export(text, &mut out, &[]).expect("the CSV reads");
    (out.render(), summary)
}

#[test]
fn every_sample_of_haproxy_exporter_is_published_with_its_value_type_and_help() {
    let (ours, summary) = export(&captured("haproxy-2.6/stats.csv"));
    assert_eq!(summary.rows, 18);
    assert_eq!(summary.parse_failures, 0);
    let ours = parse_exposition(&ours);
    let theirs = parse_exposition(&captured("haproxy-2.6/haproxy_exporter-0.14.0.metrics"));
    let mut compared = 0;
    for ((name, labels), value) in &theirs.samples {
        // The exporter's own counters and haproxy_up are the scraper's, not the CSV's.
        if name.starts_with("haproxy_exporter_") || name == "haproxy_up" {
            continue;
        }
        let key = (name.clone(), labels.clone());
        let got = ours.samples.get(&key);
        assert_eq!(got, Some(value), "{name} {labels:?}");
        assert_eq!(
            ours.types.get(name),
            theirs.types.get(name),
            "type of {name}"
        );
        assert_eq!(
            ours.helps.get(name),
            theirs.helps.get(name),
            "help of {name}"
        );
        compared += 1;
    }
    // All of theirs but haproxy_up and the two haproxy_exporter_* counters.
    assert_eq!(compared, theirs.samples.len() - 3);
    assert!(compared > 500, "compared {compared} samples");
    let extra: Vec<_> = ours
        .samples
        .keys()
        .filter(|k| !theirs.samples.contains_key(k))
        .collect();
    assert!(
        extra.is_empty(),
        "samples haproxy_exporter does not publish: {extra:?}"
    );
}

#[test]
fn server_up_follows_each_servers_state() {
    let (text, _) = export(&captured("haproxy-2.6/stats.csv"));
    let s = parse_exposition(&text);
    let up = |be: &str, sv: &str| s.value("haproxy_server_up", &[("backend", be), ("server", sv)]);
    // web1, web2 UP; web3 DOWN (nothing listens); web4 "no check"; web5 UP backup; web6
    // MAINT (disabled); api2 DRAIN (set by the CLI); dead1 DOWN.
    assert_eq!(up("be_app", "web1"), Some(1.0));
    assert_eq!(up("be_app", "web3"), Some(0.0));
    assert_eq!(up("be_app", "web4"), Some(1.0));
    assert_eq!(up("be_app", "web5"), Some(1.0));
    assert_eq!(up("be_app", "web6"), Some(0.0));
    assert_eq!(up("be_api", "api2"), Some(1.0));
    assert_eq!(up("be_empty", "dead1"), Some(0.0));
    assert_eq!(
        s.value("haproxy_backend_up", &[("backend", "be_empty")]),
        Some(0.0)
    );
    let code5 = [("backend", "be_empty"), ("code", "5xx")];
    assert_eq!(
        s.value("haproxy_backend_http_responses_total", &code5),
        Some(5.0)
    );
}

#[test]
fn the_cli_socket_show_stat_reads_as_the_http_csv_does() {
    let show = captured("haproxy-2.6/show-stat.txt");
    let http = captured("haproxy-2.6/stats.csv");
    let (a, b) = (
        csv::header(&show).expect("show stat"),
        csv::header(&http).expect("csv"),
    );
    assert_eq!(a.columns(), b.columns(), "same columns in the same order");
    let (text, summary) = export(&show);
    assert_eq!(summary.rows, 18);
    let s = parse_exposition(&text);
    assert_eq!(s.family("haproxy_server_up").len(), 9);
    assert_eq!(s.family("haproxy_frontend_http_requests_total").len(), 5);
}

#[test]
fn an_older_column_set_in_another_order_reads_by_name() {
    // HAProxy 1.4's first columns, reordered: positions do not matter, names do.
    let text = "# svname,pxname,status,weight,type,scur,hrsp_2xx\n\
                web1,be,UP 1/3,5,2,4,10\nBACKEND,be,UP,5,1,4,10\nFRONTEND,fe,OPEN,,0,2,9\n";
    let (out, summary) = export(text);
    assert_eq!(summary.parse_failures, 0);
    let s = parse_exposition(&out);
    assert_eq!(
        s.value(
            "haproxy_server_up",
            &[("backend", "be"), ("server", "web1")]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.value(
            "haproxy_server_weight",
            &[("backend", "be"), ("server", "web1")]
        ),
        Some(5.0)
    );
    assert_eq!(
        s.value("haproxy_frontend_current_sessions", &[("frontend", "fe")]),
        Some(2.0)
    );
    let code = [("frontend", "fe"), ("code", "2xx")];
    assert_eq!(
        s.value("haproxy_frontend_http_responses_total", &code),
        Some(9.0)
    );
}
