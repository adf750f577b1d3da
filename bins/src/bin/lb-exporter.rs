//! `lb-exporter`: one Prometheus exporter for HAProxy/lbproxy and keepalived/vrrpd, with the
//! flags and metric names of prometheus/haproxy_exporter and mehdy/keepalived-exporter.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use exporters::fetch::{unix_path, HttpTarget};
use exporters::scrape::{Collector, HaproxyAt, KeepalivedAt, Signals, Source, SourceKind};
use nix::sys::signal::Signal;
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info};

/// Prometheus exporter for HAProxy/lbproxy stats and keepalived/vrrpd state.
#[derive(Debug, Parser)]
#[command(name = "lb-exporter", version)]
struct Args {
    /// Stats CSV to scrape: http://[user:pass@]host:port/stats;csv (HAProxy's or lbproxy's
    /// `stats uri` with `;csv`) or unix:/path/to/haproxy.sock (`show stat`). Repeat the flag
    /// or separate with commas; with several, each series has a `socket` label.
    #[arg(long = "haproxy.scrape-uri", value_delimiter = ',')]
    haproxy_scrape_uri: Vec<String>,
    /// How long one scrape of a stats CSV may take (e.g. 5s, 500ms).
    #[arg(long = "haproxy.timeout", default_value = "5s", value_parser = parse_duration)]
    haproxy_timeout: Duration,
    /// keepalived's pid file: read keepalived by signalling it (as keepalived-exporter does).
    #[arg(long = "keepalived.pid-path")]
    keepalived_pid_path: Option<PathBuf>,
    /// Read keepalived's JSON dump (`keepalived --signum=JSON`) instead of its data and
    /// stats files.
    #[arg(long = "keepalived.json")]
    keepalived_json: bool,
    /// Where keepalived writes its dumps (its TMPDIR).
    #[arg(long = "keepalived.dump-dir", default_value = "/tmp")]
    keepalived_dump_dir: PathBuf,
    /// The keepalived binary asked for its signal numbers (`--signum=DATA|STATS|JSON`).
    #[arg(long = "keepalived.binary", default_value = "keepalived")]
    keepalived_binary: PathBuf,
    /// A script run with each VIP as its argument: keepalived_check_script_status.
    #[arg(long = "keepalived.check-script")]
    keepalived_check_script: Option<PathBuf>,
    /// How long one read of keepalived may take.
    #[arg(long = "keepalived.timeout", default_value = "5s", value_parser = parse_duration)]
    keepalived_timeout: Duration,
    /// vrrpd's status endpoint: http://127.0.0.1:9650/status. Repeatable.
    #[arg(long = "vrrpd.status-uri", value_delimiter = ',')]
    vrrpd_status_uri: Vec<String>,
    /// How long one read of vrrpd's status may take.
    #[arg(long = "vrrpd.timeout", default_value = "5s", value_parser = parse_duration)]
    vrrpd_timeout: Duration,
    /// Address to serve the metrics and the landing page on.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9655")]
    listen: SocketAddr,
    /// Path of the metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    telemetry_path: String,
    /// Log level: error, warn, info, debug.
    #[arg(long = "log.level", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    bins::init_logging(&args.log_level);
    let collector = match collector(&args) {
        Ok(c) => c,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    if collector.sources.is_empty() {
        error!("nothing to scrape: give --haproxy.scrape-uri, --keepalived.pid-path or --vrrpd.status-uri");
        return ExitCode::from(2);
    }
    let runtime = match bins::current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(run(args.listen, args.telemetry_path, collector))
}

async fn run(listen: SocketAddr, path: String, collector: Collector) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            error!(%listen, "binding the listen address: {e}");
            return ExitCode::from(1);
        }
    };
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(e), _) | (_, Err(e)) => {
            error!("installing signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let names: Vec<&str> = collector.sources.iter().map(|s| s.name.as_str()).collect();
    info!(%listen, %path, sources = ?names, "lb-exporter listening");
    let serving = exporters::serve::serve(listener, path, Arc::new(collector));
    tokio::select! {
        () = serving => {}
        _ = term.recv() => info!("SIGTERM: stopping"),
        _ = int.recv() => info!("SIGINT: stopping"),
    }
    ExitCode::SUCCESS
}

/// The sources the flags name.
fn collector(args: &Args) -> Result<Collector, String> {
    let mut sources = Vec::new();
    for uri in args.haproxy_scrape_uri.iter().filter(|u| !u.is_empty()) {
        let at = match unix_path(uri) {
            Some(path) => HaproxyAt::Unix(path),
            None if uri.starts_with("unix:") => {
                return Err(format!(
                    "--haproxy.scrape-uri {uri}: write unix:/absolute/path"
                ))
            }
            None => HaproxyAt::Http(
                HttpTarget::parse(uri).map_err(|e| format!("--haproxy.scrape-uri {e}"))?,
            ),
        };
        sources.push(Source::new(SourceKind::Haproxy(at), args.haproxy_timeout));
    }
    if let Some(pid_file) = &args.keepalived_pid_path {
        let at = KeepalivedAt {
            pid_file: pid_file.clone(),
            dump_dir: args.keepalived_dump_dir.clone(),
            json: args.keepalived_json,
            signals: keepalived_signals(&args.keepalived_binary),
        };
        if at.json && at.signals.json.is_none() {
            return Err(format!(
                "--keepalived.json: {} has no JSON signal (built without --enable-json)",
                args.keepalived_binary.display()
            ));
        }
        sources.push(Source::new(
            SourceKind::Keepalived(at),
            args.keepalived_timeout,
        ));
    }
    for uri in args.vrrpd_status_uri.iter().filter(|u| !u.is_empty()) {
        let t = HttpTarget::parse(uri).map_err(|e| format!("--vrrpd.status-uri {e}"))?;
        sources.push(Source::new(SourceKind::Vrrpd(t), args.vrrpd_timeout));
    }
    // Each source's series are told apart by its name (`socket`/`source` label).
    for (i, s) in sources.iter().enumerate() {
        if sources[..i].iter().any(|t| t.name == s.name) {
            return Err(format!("{} is given twice", s.name));
        }
    }
    Ok(Collector {
        sources,
        check_script: args.keepalived_check_script.clone(),
    })
}

/// Asks keepalived for its signal numbers; SIGUSR1/SIGUSR2 (and no JSON) when it cannot
/// say (keepalived before 1.3.8 has no --signum).
fn keepalived_signals(binary: &std::path::Path) -> Signals {
    let ask = |name: &str| -> Option<i32> {
        let out = std::process::Command::new(binary)
            .arg(format!("--signum={name}"))
            .output()
            .ok()?;
        let n = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        out.status.success().then_some(n)
    };
    let signals = Signals {
        data: ask("DATA").unwrap_or(Signal::SIGUSR1 as i32),
        stats: ask("STATS").unwrap_or(Signal::SIGUSR2 as i32),
        json: ask("JSON"),
    };
    info!(?signals, "keepalived signal numbers");
    signals
}

/// A duration as the Go exporters write it: `5s`, `500ms`, `1m`, `1.5s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration such as 5s or 500ms"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{text:?}: unit {unit:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}
