//! Observability fixtures for the network tests: a real Prometheus (Debian's `prometheus`)
//! scraping targets inside a lab node, `lb-exporter`, and proxies (lbproxy or HAProxy) with
//! backends that are processes of their own, so that one can be stopped and started.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::{exec, spawn, ProcessGuard};

/// Prometheus's port inside the node.
pub const PROMETHEUS_PORT: u16 = 9090;
/// lb-exporter's port inside the node.
pub const EXPORTER_PORT: u16 = 9655;

/// A file tree of one test (configs, Prometheus's storage), removed at the end.
pub fn workdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p.to_string_lossy().into_owned()
}

/// `curl -s URL` in `ns`: the body, or "" when nothing answers.
pub fn curl(ns: &str, url: &str) -> String {
    exec(ns, ["curl", "-s", "--max-time", "3", url])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A Prometheus on the node's loopback, scraping every second.
pub struct Prometheus {
    ns: String,
    pub proc: ProcessGuard,
}

impl Prometheus {
    /// Starts Prometheus in `ns` with one job per (name, `host:port`) of `jobs`; storage and
    /// config in `dir`.
    pub fn start(ns: &str, dir: &Path, jobs: &[(&str, String)]) -> Prometheus {
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for (job, target) in jobs {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            ));
        }
        let file = write(dir, "prometheus.yml", &config);
        let data = dir.join("prometheus-data");
        let proc = spawn(
            ns,
            [
                "prometheus".to_string(),
                format!("--config.file={file}"),
                format!("--storage.tsdb.path={}", data.display()),
                format!("--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"),
                "--log.level=warn".to_string(),
            ],
        )
        .expect("prometheus starts (Debian package `prometheus`)");
        let p = Prometheus {
            ns: ns.to_string(),
            proc,
        };
        let ready = format!("http://127.0.0.1:{PROMETHEUS_PORT}/-/ready");
        testkit::wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
            curl(ns, &ready).contains("Ready")
        })
        .unwrap_or_else(|_| panic!("prometheus ready\n{}", p.proc.log()));
        p
    }

    /// An instant query: each result's labels and value.
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let out = exec(
            &self.ns,
            [
                "curl",
                "-s",
                "--max-time",
                "3",
                "-G",
                &format!("http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query"),
                "--data-urlencode",
                &format!("query={expr}"),
            ],
        )
        .expect("curl runs");
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_ne!(body["status"], "error", "query {expr}: {body}");
        body["data"]["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|r| {
                        let v = r["value"][1].as_str().and_then(|v| v.parse().ok());
                        (r["metric"].clone(), v.unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value of `expr`, if it has exactly one series.
    pub fn value(&self, expr: &str) -> Option<f64> {
        match self.query(expr).as_slice() {
            [(_, v)] => Some(*v),
            _ => None,
        }
    }

    /// Waits until `expr` has exactly one series with value `want`; panics with `context`
    /// and what Prometheus had after `limit`. Returns how long it took.
    pub fn wait_for(
        &self,
        expr: &str,
        want: f64,
        limit: Duration,
        context: &dyn Fn() -> String,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let got = self.value(expr);
            if got == Some(want) {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                panic!(
                    "{expr} should become {want} within {limit:?}; Prometheus has {:?}\n{}",
                    self.query(expr),
                    context()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// lb-exporter on the node's loopback ([`EXPORTER_PORT`]) with `args`.
pub fn lb_exporter(ns: &str, args: &[&str]) -> ProcessGuard {
    lb_exporter_on(ns, EXPORTER_PORT, args)
}

/// lb-exporter on the node's loopback port `port` with `args`.
pub fn lb_exporter_on(ns: &str, port: u16, args: &[&str]) -> ProcessGuard {
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let proc = spawn(
        ns,
        [
            env!("CARGO_BIN_EXE_lb-exporter"),
            &listen,
            "--log.level=debug",
        ]
        .into_iter()
        .chain(args.iter().copied()),
    )
    .expect("lb-exporter starts");
    let url = format!("http://127.0.0.1:{port}/");
    testkit::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        curl(ns, &url).contains("lb-exporter")
    })
    .unwrap_or_else(|_| panic!("lb-exporter serves its landing page\n{}", proc.log()));
    proc
}

/// Which proxy a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    /// Ours.
    Lbproxy,
    /// Debian's HAProxy 2.6.
    Haproxy,
}

impl Proxy {
    fn argv(self, cfg: &str) -> Vec<String> {
        match self {
            Proxy::Lbproxy => vec![
                env!("CARGO_BIN_EXE_lbproxy").into(),
                "-f".into(),
                cfg.into(),
            ],
            Proxy::Haproxy => vec!["haproxy".into(), "-db".into(), "-f".into(), cfg.into()],
        }
    }

    /// Starts this proxy in `ns` with `cfg` written to `dir/name`.
    pub fn start(self, ns: &str, dir: &Path, name: &str, cfg: &str) -> ProcessGuard {
        let file = write(dir, name, cfg);
        spawn(ns, self.argv(&file)).unwrap_or_else(|e| panic!("{self:?} {name}: {e}"))
    }

    /// A backend server: this proxy answering 200 on 127.0.0.1:`port` by itself.
    pub fn backend(self, ns: &str, dir: &Path, port: u16) -> ProcessGuard {
        let cfg = format!(
            "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n    timeout connect 1s\n\n\
             frontend srv{port}\n    bind 127.0.0.1:{port}\n    \
             http-request return status 200 content-type text/plain string ok\n"
        );
        let proc = self.start(ns, dir, &format!("backend-{port}.cfg"), &cfg);
        let url = format!("http://127.0.0.1:{port}/");
        testkit::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            curl(ns, &url) == "ok"
        })
        .unwrap_or_else(|_| panic!("backend {port} answers\n{}", proc.log()));
        proc
    }
}

/// A proxy config: `listen stats` on 127.0.0.1:9188 (`stats uri /stats`, plus `extra_global`
/// lines such as a CLI socket), frontend `fe` on 8080 to backend `be` with servers `web1` on
/// 8081 and `web2` on 8082, checked every 200 ms.
pub fn proxy_config(extra_global: &str) -> String {
    format!(
        "global\n{extra_global}\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         listen stats\n    bind 127.0.0.1:9188\n    stats enable\n    stats uri /stats\n\n\
         frontend fe\n    bind 127.0.0.1:8080\n    default_backend be\n\n\
         backend be\n    option httpchk GET /\n    \
         server web1 127.0.0.1:8081 check inter 200ms rise 1 fall 1\n    \
         server web2 127.0.0.1:8082 check inter 200ms rise 1 fall 1\n"
    )
}

/// The repository's `deploy/` directory.
pub fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every (panel title, PromQL expression) of the Grafana dashboard, with its variables
/// replaced as Grafana would for "all nodes" and a 1-minute rate window.
pub fn dashboard_queries() -> Vec<(String, String)> {
    let path = deploy_dir().join("grafana/dashboards/halb.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let expr = expr
                    .replace("$instance", ".*")
                    .replace("$__rate_interval", "1m")
                    .replace("$__range", "5m");
                out.push((panel["title"].as_str().unwrap_or("").to_string(), expr));
            }
        }
    }
    out
}

/// The logs of a test's processes, read when a check fails (by path: the guards stay free
/// to be killed).
#[derive(Debug, Default)]
pub struct Logs(Vec<(String, PathBuf)>);

impl Logs {
    /// Adds `guard`'s log under `name`.
    pub fn add(mut self, name: &str, guard: &ProcessGuard) -> Logs {
        self.0
            .push((name.to_string(), guard.log_path().to_path_buf()));
        self
    }

    /// Every log, each under its name.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|(name, path)| {
                let log = std::fs::read_to_string(path).unwrap_or_default();
                format!("--- {name}:\n{log}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
