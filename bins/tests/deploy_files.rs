//! The files in deploy/: the Grafana dashboard has the structure Grafana needs to import
//! it (named fields below), its provisioning files point at the datasource uid it uses, and
//! the vrrpd unit grants exactly CAP_NET_ADMIN and CAP_NET_RAW.

mod observe;

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    let p = observe::deploy_dir().join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read("grafana/dashboards/halb.json")).expect("the dashboard is JSON")
}

#[test]
fn the_dashboard_has_what_grafana_needs_to_import_it() {
    let d = dashboard();
    // Top level: uid and title (identity), schemaVersion (Grafana migrates from it),
    // panels, templating.list.
    assert!(
        d["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty() && u.len() <= 40),
        "uid"
    );
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()), "title");
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "schemaVersion"
    );
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    assert!(vars
        .iter()
        .any(|v| v["name"] == "instance" && v["type"] == "query"));
    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().expect("every panel has a title");
        // id: unique number; type: a core panel; gridPos inside the 24-column grid.
        assert!(
            ids.insert(p["id"].as_u64().expect("id")),
            "{title}: id unique"
        );
        assert!(
            ["stat", "timeseries"].contains(&p["type"].as_str().unwrap_or("")),
            "{title}: type"
        );
        let g = &p["gridPos"];
        let (x, w, h) = (g["x"].as_u64(), g["w"].as_u64(), g["h"].as_u64());
        assert!(
            x.zip(w).is_some_and(|(x, w)| w > 0 && x + w <= 24),
            "{title}: gridPos x,w"
        );
        assert!(
            h.is_some_and(|h| h > 0) && g["y"].as_u64().is_some(),
            "{title}: gridPos y,h"
        );
        // datasource: the provisioned Prometheus, by uid.
        assert_eq!(p["datasource"]["type"], "prometheus", "{title}");
        assert_eq!(p["datasource"]["uid"], "halb-prometheus", "{title}");
        // targets: each an expr with a refId unique in the panel.
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: targets");
        let refs: BTreeSet<&str> = targets.iter().filter_map(|t| t["refId"].as_str()).collect();
        assert_eq!(refs.len(), targets.len(), "{title}: refIds unique");
        assert!(
            targets
                .iter()
                .all(|t| t["expr"].as_str().is_some_and(|e| !e.is_empty())),
            "{title}"
        );
    }
}

#[test]
fn the_dashboard_shows_what_an_operator_watches_per_node() {
    let queries = observe::dashboard_queries();
    let uses = |metric: &str| queries.iter().any(|(_, e)| e.contains(metric));
    for metric in [
        "haproxy_up",
        "haproxy_server_up",
        "keepalived_up",
        "keepalived_vrrp_state",
        "haproxy_frontend_http_requests_total",
        "haproxy_backend_http_responses_total",
        "keepalived_become_master_total",
    ] {
        assert!(uses(metric), "no panel shows {metric}");
    }
    // Per node: every query is narrowed by the node variable.
    let d = dashboard();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            let e = t["expr"].as_str().unwrap_or("");
            assert!(e.contains("instance=~\"$instance\""), "{e}");
        }
    }
}

#[test]
fn provisioning_points_grafana_at_the_dashboards_datasource() {
    let ds = read("grafana/provisioning/datasources/halb.yaml");
    assert!(ds.contains("apiVersion: 1") && ds.contains("type: prometheus"));
    assert!(ds.contains("uid: halb-prometheus"), "{ds}");
    let boards = read("grafana/provisioning/dashboards/halb.yaml");
    assert!(
        boards.contains("type: file") && boards.contains("path: "),
        "{boards}"
    );
    let scrape = read("prometheus/lb-exporter.yml");
    assert!(
        scrape.contains("job_name: lb-exporter") && scrape.contains(":9655"),
        "{scrape}"
    );
}

#[test]
fn vrrpd_runs_with_net_admin_and_net_raw_and_nothing_more() {
    let unit = read("systemd/vrrpd.service");
    let line = |key: &str| -> BTreeSet<String> {
        unit.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in vrrpd.service"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let want: BTreeSet<String> = ["CAP_NET_ADMIN", "CAP_NET_RAW"].map(String::from).into();
    assert_eq!(line("AmbientCapabilities="), want);
    assert_eq!(line("CapabilityBoundingSet="), want);
    for unit in ["lbproxy.service", "lb-exporter.service"] {
        let text = read(&format!("systemd/{unit}"));
        assert!(text.contains("ExecStart=/usr/sbin/"), "{unit}");
        assert!(
            !text.contains("CAP_NET_ADMIN") && !text.contains("CAP_NET_RAW"),
            "{unit}"
        );
    }
}
