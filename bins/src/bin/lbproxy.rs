//! `lbproxy`: an HTTP/TCP load balancer reading haproxy.cfg.
//!
//! Flags follow HAProxy's: `-f FILE` (repeatable), `-c` check and exit 0/1, `-p PIDFILE`.
//! Signals: SIGTERM/SIGINT stop now; SIGUSR1 soft-stop (stop accepting, drain, exit);
//! SIGHUP/SIGUSR2 reload the files (a bad file keeps the running configuration).
//! `--metrics-addr` serves the statistics through the `metrics` facade's Prometheus exporter.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use l7_proxy::config::{self, ConfigError, Loaded};
use l7_proxy::Proxy;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
#[command(
    name = "lbproxy",
    version,
    about = "HTTP/TCP load balancer reading haproxy.cfg"
)]
struct Args {
    /// Configuration file (repeatable; read in order).
    #[arg(short = 'f', required = true)]
    files: Vec<PathBuf>,
    /// Check the configuration and exit (0 valid, 1 invalid).
    #[arg(short = 'c')]
    check: bool,
    /// Write the process id to this file (overrides `pidfile`).
    #[arg(short = 'p')]
    pidfile: Option<PathBuf>,
    /// Quiet: only errors in check mode.
    #[arg(short = 'q')]
    quiet: bool,
    /// Accepted for HAProxy compatibility; lbproxy stays in the foreground.
    #[arg(short = 'D')]
    daemon: bool,
    /// Accepted for HAProxy compatibility (master-worker): ignored.
    #[arg(short = 'W')]
    master_worker: bool,
    /// Serve the statistics through the `metrics` facade and its Prometheus exporter
    /// (GET /metrics, HAProxy's built-in exporter's names) on this address; off by default.
    /// `http-request use-service prometheus-exporter` serves the same on a frontend.
    #[arg(long = "metrics-addr")]
    metrics_addr: Option<std::net::SocketAddr>,
}

/// How often the statistics are copied into the metrics facade.
const METRICS_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

fn load(files: &[PathBuf]) -> Result<Loaded, ConfigError> {
    config::load_files(files)
}

fn main() -> ExitCode {
    let args = Args::parse();
    bins::init_logging("info");
    let mut loaded = match load(&args.files) {
        Ok(l) => l,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(1);
        }
    };
    for w in &loaded.warnings {
        if !args.quiet {
            eprintln!("[WARNING] {w}");
        }
    }
    if args.check {
        // As HAProxy's -c: certificates, keys and CA files are loaded too.
        if let Err(e) = l7_proxy::check_files(&loaded.config) {
            eprintln!("[ALERT] {e}");
            eprintln!("[ALERT] Fatal errors found in configuration.");
            return ExitCode::from(1);
        }
        if !args.quiet {
            println!("Configuration file is valid");
        }
        return ExitCode::SUCCESS;
    }
    if args.daemon || args.master_worker {
        tracing::warn!("-D/-W are ignored: lbproxy stays in the foreground (run it under systemd)");
    }
    // Before anything opens a file: a limit too low for `maxconn` refuses to start.
    let budget = match l7_proxy::limits::apply(&mut loaded.config) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("[ALERT] {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(
        files = budget.limit,
        maxconn = budget.maxconn,
        "file limit {}, maxconn {}{}",
        budget.limit,
        budget.maxconn,
        if budget.derived {
            " (derived from the file limit)"
        } else {
            ""
        }
    );
    let g = &loaded.config.global;
    let identity = match l7_proxy::privileges::resolve(g.user.as_deref(), g.group.as_deref()) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("[ALERT] {e}");
            return ExitCode::from(1);
        }
    };
    let threads = g.nbthread.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("[ALERT] cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // Removed when `main` returns.
    let _pid_files = match bins::PidFiles::write(args.pidfile.clone().or_else(|| g.pidfile.clone()))
    {
        Ok(files) => files,
        Err(e) => {
            eprintln!(
                "[ALERT] cannot write pidfile {}: {}",
                e.path.display(),
                e.source
            );
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(run(args.files, loaded, identity, args.metrics_addr));
    // Do not wait for lingering connection tasks: stop means stop.
    rt.shutdown_background();
    code
}

fn report_error(e: &ConfigError) {
    match e {
        ConfigError::Invalid { diagnostics } => {
            for d in diagnostics {
                let tag = match d.severity {
                    config::Severity::Error => "[ALERT]",
                    config::Severity::Warning => "[WARNING]",
                };
                eprintln!("{tag} {d}");
            }
            eprintln!("[ALERT] Fatal errors found in configuration.");
        }
        other => eprintln!("[ALERT] {other}"),
    }
}

async fn run(
    files: Vec<PathBuf>,
    loaded: Loaded,
    identity: Option<(u32, u32)>,
    metrics_addr: Option<std::net::SocketAddr>,
) -> ExitCode {
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined2()),
    );
    let (Ok(mut term), Ok(mut int), Ok(mut usr1), Ok(mut hup), Ok(mut usr2)) = signals else {
        eprintln!("[ALERT] cannot install signal handlers");
        return ExitCode::from(1);
    };
    let proxy = match Proxy::start(&loaded.config).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("[ALERT] {e}");
            return ExitCode::from(1);
        }
    };
    // Listeners are bound: now drop root if `user`/`group` ask for it.
    if let Some((uid, gid)) = identity {
        match l7_proxy::privileges::switch_to(uid, gid) {
            Ok(()) => tracing::info!(uid, gid, "running as uid {uid} gid {gid}"),
            Err(e @ l7_proxy::privileges::PrivError::NotRoot { .. }) => {
                tracing::warn!("'user'/'group' not applied: {e}")
            }
            Err(e) => {
                eprintln!("[ALERT] {e}");
                return ExitCode::from(1);
            }
        }
    }
    if let Some(addr) = metrics_addr {
        // Inside the runtime: the listener runs as a task of it.
        let installed = metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install();
        if let Err(e) = installed {
            eprintln!("[ALERT] metrics endpoint {addr}: {e}");
            return ExitCode::from(1);
        }
        tracing::info!(%addr, "metrics endpoint listening");
    }
    let mut publish = tokio::time::interval(METRICS_PERIOD);
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(
        frontends = loaded.config.frontends.len(),
        backends = loaded.config.backends.len(),
        "lbproxy started"
    );
    loop {
        tokio::select! {
            _ = publish.tick(), if metrics_addr.is_some() => {
                if let Some(view) = proxy.stats().await {
                    // Off the workers: a large configuration takes milliseconds to copy.
                    let _ = tokio::task::spawn_blocking(move || {
                        l7_proxy::stats::facade::record(&view)
                    })
                    .await;
                }
            }
            _ = term.recv() => { tracing::warn!("SIGTERM: stopping now"); return ExitCode::SUCCESS; }
            _ = int.recv() => { tracing::warn!("SIGINT: stopping now"); return ExitCode::SUCCESS; }
            _ = usr1.recv() => {
                tracing::warn!(active = proxy.active_connections(), "SIGUSR1: soft stop, draining connections");
                tokio::select! {
                    left = proxy.soft_stop(None) => {
                        tracing::warn!(left, "soft stop complete");
                    }
                    _ = term.recv() => tracing::warn!("SIGTERM during soft stop: stopping now"),
                    _ = int.recv() => tracing::warn!("SIGINT during soft stop: stopping now"),
                }
                return ExitCode::SUCCESS;
            }
            _ = hup.recv() => reload(&proxy, &files, &loaded.config.global).await,
            _ = usr2.recv() => reload(&proxy, &files, &loaded.config.global).await,
        }
    }
}

async fn reload(proxy: &Proxy, files: &[PathBuf], started: &config::Global) {
    tracing::info!("reloading configuration");
    match load(files) {
        Err(ConfigError::Invalid { diagnostics }) => {
            for d in diagnostics {
                tracing::error!("{d}");
            }
            tracing::error!("reload failed: keeping the running configuration");
        }
        Err(e) => tracing::error!("reload failed: {e}; keeping the running configuration"),
        Ok(mut l) => {
            for w in &l.warnings {
                tracing::warn!("{w}");
            }
            // A `maxconn` derived from the file limit at start stays in force.
            if l.config.global.maxconn.is_none() {
                l.config.global.maxconn = started.maxconn;
            }
            // Process-level settings are fixed at start.
            let g = &l.config.global;
            if g.nbthread != started.nbthread
                || g.maxconn != started.maxconn
                || g.ulimit_n != started.ulimit_n
                || g.user != started.user
                || g.group != started.group
            {
                tracing::warn!(
                    "global nbthread/maxconn/ulimit-n/user/group changed: they take effect at the next restart"
                );
            }
            match proxy.reload(&l.config).await {
                Ok(()) => tracing::info!("configuration reloaded"),
                Err(e) => tracing::error!("reload failed: {e}; keeping the running configuration"),
            }
        }
    }
}
