//! One scrape: every source fetched at once, each within its own deadline, then rendered
//! together. A source that fails or is too slow publishes its `*_up` as 0 and nothing else;
//! the others are not held up by it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::warn;

use crate::fetch::{self, FetchError, HttpTarget};
use crate::keepalived::{self, VrrpReport};
use crate::text::{Exposition, Kind};
use crate::{haproxy, vrrpd};

/// Where a HAProxy or lbproxy publishes its stats CSV.
#[derive(Debug)]
pub enum HaproxyAt {
    /// `stats uri` with `;csv` (`http://user:pass@host:port/stats;csv`).
    Http(HttpTarget),
    /// The CLI socket (`unix:/run/haproxy/admin.sock`): `show stat`.
    Unix(PathBuf),
}

/// Signal numbers of a keepalived (`keepalived --signum=DATA|STATS|JSON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// Writes keepalived.data.
    pub data: i32,
    /// Writes keepalived.stats.
    pub stats: i32,
    /// Writes keepalived.json (a keepalived built with JSON support only).
    pub json: Option<i32>,
}

/// A running keepalived, read as keepalived-exporter reads it.
#[derive(Debug)]
pub struct KeepalivedAt {
    /// Its pid file (the parent's: it forwards the signals to the VRRP child).
    pub pid_file: PathBuf,
    /// Where it writes its dumps (its `TMPDIR`, `/tmp` by default).
    pub dump_dir: PathBuf,
    /// Read keepalived.json instead of the data and stats files.
    pub json: bool,
    /// Its signal numbers.
    pub signals: Signals,
}

/// What one source is.
#[derive(Debug)]
pub enum SourceKind {
    /// A stats CSV.
    Haproxy(HaproxyAt),
    /// A keepalived.
    Keepalived(KeepalivedAt),
    /// vrrpd's `/status`.
    Vrrpd(HttpTarget),
}

/// One source with its deadline.
#[derive(Debug)]
pub struct Source {
    /// What and where.
    pub kind: SourceKind,
    /// How long one fetch may take.
    pub timeout: Duration,
    /// How it is named in logs and in the `socket`/`source` label.
    pub name: String,
    scrapes: AtomicU64,
    parse_failures: AtomicU64,
    // Signals to one keepalived are sent one scrape at a time: two at once would read
    // each other's half-written dumps.
    lock: tokio::sync::Mutex<()>,
}

impl Source {
    /// A source of `kind`, fetched within `timeout`.
    pub fn new(kind: SourceKind, timeout: Duration) -> Source {
        let name = match &kind {
            SourceKind::Haproxy(HaproxyAt::Http(t)) | SourceKind::Vrrpd(t) => {
                t.display().to_string()
            }
            SourceKind::Haproxy(HaproxyAt::Unix(p)) => format!("unix:{}", p.display()),
            SourceKind::Keepalived(k) => format!("keepalived:{}", k.pid_file.display()),
        };
        Source {
            kind,
            timeout,
            name,
            scrapes: AtomicU64::new(0),
            parse_failures: AtomicU64::new(0),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn is_haproxy(&self) -> bool {
        matches!(self.kind, SourceKind::Haproxy(_))
    }
}

/// What a fetch brought back.
enum Payload {
    Csv(String),
    Vrrp(VrrpReport),
}

/// Why a source published nothing this time.
#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Parse(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// The exporter's sources and settings.
#[derive(Debug, Default)]
pub struct Collector {
    /// Sources in the order given.
    pub sources: Vec<Source>,
    /// `--keepalived.check-script`: run with each VIP as its argument.
    pub check_script: Option<PathBuf>,
}

impl Collector {
    /// Fetches every source at once and renders the Prometheus text.
    pub async fn collect(&self) -> String {
        let fetched = futures_util::future::join_all(self.sources.iter().map(|s| async move {
            let start = Instant::now();
            let result = match tokio::time::timeout(s.timeout, fetch_source(s)).await {
                Ok(r) => r,
                Err(_) => Err(ScrapeError::Timeout(s.timeout)),
            };
            (result, start.elapsed())
        }))
        .await;
        let haproxies = self.sources.iter().filter(|s| s.is_haproxy()).count();
        let vrrps = self.sources.len() - haproxies;
        let mut out = Exposition::new();
        for (source, (result, took)) in self.sources.iter().zip(fetched) {
            let result = match result {
                Ok(Payload::Vrrp(report)) => {
                    let checks = self.run_checks(&report).await;
                    Ok(Payload::Vrrp(report)).map(|p| (p, checks))
                }
                Ok(p) => Ok((p, BTreeMap::new())),
                Err(e) => Err(e),
            };
            let many = if source.is_haproxy() {
                haproxies
            } else {
                vrrps
            } > 1;
            self.publish(source, result, many, &mut out);
            out.sample(
                "lb_exporter_scrape_duration_seconds",
                "How long the last fetch of each source took.",
                Kind::Gauge,
                &[("source", &source.name)],
                took.as_secs_f64(),
            );
        }
        out.render()
    }

    /// Adds one source's families (or just its `*_up` 0) to `out`.
    fn publish(
        &self,
        source: &Source,
        result: Result<(Payload, BTreeMap<String, bool>), ScrapeError>,
        many: bool,
        out: &mut Exposition,
    ) {
        let label_name = if source.is_haproxy() {
            "socket"
        } else {
            "source"
        };
        let extra: Vec<(&str, &str)> = if many {
            vec![(label_name, source.name.as_str())]
        } else {
            Vec::new()
        };
        let up = match result {
            Ok((Payload::Csv(text), _)) => match haproxy::export(&text, out, &extra) {
                Ok(summary) => {
                    source
                        .parse_failures
                        .fetch_add(summary.parse_failures as u64, Ordering::Relaxed);
                    true
                }
                Err(e) => {
                    warn!(source = %source.name, "scrape failed: {e}");
                    source.parse_failures.fetch_add(1, Ordering::Relaxed);
                    false
                }
            },
            Ok((Payload::Vrrp(report), checks)) => {
                keepalived::export(&report, out, &extra, &checks);
                true
            }
            Err(e) => {
                warn!(source = %source.name, "scrape failed: {e}");
                false
            }
        };
        let (name, help) = if source.is_haproxy() {
            haproxy::UP
        } else {
            keepalived::UP
        };
        out.sample(name, help, Kind::Gauge, &extra, if up { 1.0 } else { 0.0 });
        if source.is_haproxy() {
            out.sample(
                "haproxy_exporter_scrapes_total",
                "Current total HAProxy scrapes.",
                Kind::Counter,
                &extra,
                source.scrapes.load(Ordering::Relaxed) as f64,
            );
            out.sample(
                "haproxy_exporter_csv_parse_failures_total",
                "Number of errors while parsing CSV.",
                Kind::Counter,
                &extra,
                source.parse_failures.load(Ordering::Relaxed) as f64,
            );
        }
    }

    /// Runs the check script once per VIP of `report` (at once, each within 5 s).
    async fn run_checks(&self, report: &VrrpReport) -> BTreeMap<String, bool> {
        let Some(script) = &self.check_script else {
            return BTreeMap::new();
        };
        let vips: Vec<&str> = report
            .instances
            .iter()
            .flat_map(|i| i.vips.iter().map(|v| v.address.as_str()))
            .collect();
        let results = futures_util::future::join_all(vips.iter().map(|vip| async move {
            let run = tokio::process::Command::new(script)
                .arg(vip)
                .kill_on_drop(true)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            let ok = matches!(
                tokio::time::timeout(Duration::from_secs(5), run).await,
                Ok(Ok(status)) if status.success()
            );
            (vip.to_string(), ok)
        }))
        .await;
        results.into_iter().collect()
    }
}

async fn fetch_source(source: &Source) -> Result<Payload, ScrapeError> {
    source.scrapes.fetch_add(1, Ordering::Relaxed);
    match &source.kind {
        SourceKind::Haproxy(HaproxyAt::Http(t)) => Ok(Payload::Csv(t.get().await?)),
        SourceKind::Haproxy(HaproxyAt::Unix(path)) => {
            Ok(Payload::Csv(fetch::unix_command(path, "show stat").await?))
        }
        SourceKind::Vrrpd(t) => {
            let body = t.get().await?;
            let status = vrrpd::parse(&body).map_err(|e| ScrapeError::Parse(e.to_string()))?;
            let report = vrrpd::report(&status).map_err(|e| ScrapeError::Parse(e.to_string()))?;
            Ok(Payload::Vrrp(report))
        }
        SourceKind::Keepalived(k) => {
            let _one_at_a_time = source.lock.lock().await;
            Ok(Payload::Vrrp(read_keepalived(k).await?))
        }
    }
}

/// Signals keepalived and reads the dumps it writes: the JSON one, or data then stats.
async fn read_keepalived(k: &KeepalivedAt) -> Result<VrrpReport, ScrapeError> {
    let pid = fetch::read_pid(&k.pid_file)?;
    let parse = |e: keepalived::ParseError| ScrapeError::Parse(e.to_string());
    if k.json {
        let signal = k.signals.json.ok_or_else(|| {
            ScrapeError::Parse(
                "this keepalived has no JSON signal (built without --enable-json)".into(),
            )
        })?;
        let text = dump(pid, signal, &k.dump_dir.join("keepalived.json")).await?;
        return keepalived::json::parse(&text).map_err(parse);
    }
    let data = dump(pid, k.signals.data, &k.dump_dir.join("keepalived.data")).await?;
    let stats = dump(pid, k.signals.stats, &k.dump_dir.join("keepalived.stats")).await?;
    let data = keepalived::data::parse(&data).map_err(parse)?;
    let stats = keepalived::stats::parse(&stats).map_err(parse)?;
    keepalived::join(data, stats).map_err(parse)
}

/// Sends `signal` and reads the `file` it makes keepalived write. The old file is removed
/// first where it may be, so that a dump written within the clock tick of the last one is
/// not taken for the last one.
async fn dump(pid: i32, signal: i32, file: &std::path::Path) -> Result<String, FetchError> {
    let _ = std::fs::remove_file(file);
    let before = fetch::modified(file);
    fetch::send_signal(pid, signal).await?;
    fetch::read_fresh(file, before).await
}
