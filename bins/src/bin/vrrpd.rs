//! `vrrpd`: the VRRP daemon. Reads keepalived.conf, takes keepalived's flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bins::PidFiles;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};
use vrrp_node::config;
use vrrp_node::driver::{self, Control, Options};

/// VRRP v2/v3 router reading keepalived.conf.
#[derive(Debug, Parser)]
#[command(name = "vrrpd", version)]
struct Args {
    /// Configuration file (keepalived.conf syntax).
    #[arg(
        short = 'f',
        long = "use-file",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    config: PathBuf,
    /// Check the configuration and exit: 0 when valid, 1 otherwise (keepalived -t).
    #[arg(short = 't', long = "config-test")]
    config_test: bool,
    /// The config id for conditional configuration (`@ID` lines, `${_INSTANCE}`), as
    /// keepalived -i; default: the host name without its domain.
    #[arg(short = 'i', long = "config-id", value_name = "ID", value_parser = config_id)]
    config_id: Option<String>,
    /// Stay in the foreground; without it vrrpd forks into the background, as keepalived.
    #[arg(short = 'n', long = "dont-fork")]
    dont_fork: bool,
    /// Log to the console (stderr); without it vrrpd logs to syslog (/dev/log, facility
    /// daemon), as keepalived.
    #[arg(short = 'l', long = "log-console")]
    log_console: bool,
    /// Detailed logging (debug level).
    #[arg(short = 'D', long = "log-detail")]
    log_detail: bool,
    /// Write the daemon's pid to this file.
    #[arg(short = 'p', long = "pid")]
    pid_file: Option<PathBuf>,
    /// Same as --pid (keepalived's VRRP child pid file).
    #[arg(short = 'r', long = "vrrp_pid")]
    vrrp_pid_file: Option<PathBuf>,
    /// Serve the JSON status (GET /status) on this address, e.g. 127.0.0.1:9650.
    #[arg(long = "status-addr")]
    status_addr: Option<SocketAddr>,
    /// Serve Prometheus metrics (GET /metrics; keepalived-exporter's names) on this
    /// address, e.g. 127.0.0.1:9651. Off by default.
    #[arg(long = "metrics-addr")]
    metrics_addr: Option<SocketAddr>,
    /// Seconds a VIP lives on the node unless the Master renews it (every third of it; never
    /// less than 4 advert intervals + 1 s): VIPs of a killed vrrpd leave the node after
    /// this long. 0 keeps them until removed, as keepalived does (a killed keepalived
    /// leaves them until it starts again).
    #[arg(long = "vip-lifetime", value_name = "SECONDS", default_value_t = 3)]
    vip_lifetime: u32,
    /// The network namespace (a /proc/PID/ns/net or /run/netns file) to subscribe to
    /// process events from, for vrrp_track_process, when vrrpd runs in another one: the
    /// kernel sends them in the initial namespace only.
    #[arg(long = "proc-events-netns", default_value = driver::procmon::INITIAL_NETNS)]
    proc_events_netns: PathBuf,
}

/// A config id: one word, as the `@ID` of a line can only be one.
fn config_id(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        return Err("a config id is one word, without blanks".into());
    }
    Ok(s.to_string())
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    let to_stderr = init_logging(&args);
    let load = match &args.config_id {
        Some(id) => config::LoadOptions::with_config_id(id),
        None => config::LoadOptions::default(),
    };
    let loaded = match config::load_all_with(&args.config, &load) {
        Ok(loaded) => loaded,
        Err(errors) => {
            // Every error, each once, in file order.
            for e in errors.iter() {
                report(&e.to_string(), to_stderr);
            }
            return ExitCode::from(1);
        }
    };
    for w in &loaded.warnings {
        warn!("{w}");
    }
    if args.config_test {
        // keepalived -t warns of a missing interface and passes: the daemon waits for it.
        let missing = driver::plan::interface_warnings(&loaded.config);
        for w in &missing {
            warn!("{w}");
        }
        let as_node = match &args.config_id {
            Some(id) => format!(" for config-id {id}"),
            None => String::new(),
        };
        // Named only when there are some: the line stays keepalived-like otherwise.
        let anycast = match loaded.config.anycast_routes.len() {
            0 => String::new(),
            n => format!(", {n} anycast routes"),
        };
        eprintln!(
            "{}: configuration OK{as_node} ({} instances{anycast}, {} scripts, {} warnings)",
            args.config.display(),
            loaded.config.instances.len(),
            loaded.config.scripts.len(),
            loaded.warnings.len() + missing.len()
        );
        return ExitCode::SUCCESS;
    }
    if !args.dont_fork && !daemonize(&mut args, to_stderr) {
        return ExitCode::from(1);
    }
    // Removed when main returns, however the daemon stopped.
    let pid_files = [args.pid_file.clone(), args.vrrp_pid_file.clone()];
    let _pid_files = match PidFiles::write(pid_files.into_iter().flatten()) {
        Ok(files) => files,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(1);
        }
    };
    let runtime = match bins::current_thread_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let options = Options {
        config_path: args.config.clone(),
        load,
        status_addr: args.status_addr,
        link_poll: Duration::from_millis(100),
        vip_lifetime: (args.vip_lifetime > 0)
            .then(|| Duration::from_secs(u64::from(args.vip_lifetime))),
        proc_events_netns: args.proc_events_netns.clone(),
        // Prometheus scrapes every few seconds; the counters are recorded once a second.
        metrics_refresh: args.metrics_addr.map(|_| Duration::from_secs(1)),
    };
    runtime.block_on(run(options, loaded, args.metrics_addr))
}

/// Logs to stderr (asked for, or checking a file) or to syslog; returns whether logs go to
/// stderr (also when there is no syslog to send them to).
fn init_logging(args: &Args) -> bool {
    let level = if args.log_detail { "debug" } else { "info" };
    if args.log_console || args.config_test {
        bins::init_logging(level);
        true
    } else {
        !bins::init_syslog("vrrpd", level)
    }
}

/// Reports an error to the log, and to stderr when the log is not there (it is syslog):
/// once on each.
fn report(message: &str, to_stderr: bool) {
    error!("{message}");
    if !to_stderr {
        eprintln!("vrrpd: {message}");
    }
}

/// Forks into the background as keepalived does, keeping stderr only when logging there;
/// before any thread or runtime exists. Reports its own failure.
fn daemonize(args: &mut Args, to_stderr: bool) -> bool {
    // The daemon runs in /: paths given relative to here (the file re-read on SIGHUP, the
    // pid files) are made absolute first.
    if let Err(e) = absolute_paths(args) {
        report(&e, to_stderr);
        return false;
    }
    if let Err(e) = nix::unistd::daemon(false, to_stderr) {
        report(&format!("forking into the background: {e}"), to_stderr);
        return false;
    }
    info!(pid = std::process::id(), "running in the background");
    true
}

/// Runs the daemon until SIGTERM/SIGINT; SIGHUP reloads.
async fn run(
    options: Options,
    loaded: config::LoadedConfig,
    metrics_addr: Option<SocketAddr>,
) -> ExitCode {
    if let Some(addr) = metrics_addr {
        // Inside the runtime: the listener runs as a task of it.
        let installed = metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install();
        if let Err(e) = installed {
            error!(%addr, "metrics endpoint: {e}");
            return ExitCode::from(1);
        }
        info!(%addr, "metrics endpoint listening");
    }
    let (control_tx, control_rx) = mpsc::channel(8);
    if let Err(e) = forward_signals(control_tx) {
        error!("installing signal handlers: {e}");
        return ExitCode::from(1);
    }
    let (status_tx, _status_rx) = watch::channel(Default::default());
    info!(
        file = %options.config_path.display(),
        config_id = options.load.config_id.as_deref().unwrap_or("(none)"),
        "vrrpd starting"
    );
    match driver::run(options, loaded, control_rx, status_tx).await {
        Ok(()) => {
            info!("vrrpd stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Makes the config and pid file paths absolute (before the daemon changes to /).
fn absolute_paths(args: &mut Args) -> Result<(), String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    for path in [
        Some(&mut args.config),
        args.pid_file.as_mut(),
        args.vrrp_pid_file.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        if path.is_relative() {
            *path = cwd.join(&*path);
        }
    }
    Ok(())
}

/// SIGHUP reloads; SIGTERM and SIGINT stop gracefully. keepalived's dump signals (SIGUSR1:
/// data, SIGUSR2: stats), which cron jobs and keepalived-exporter send, are caught and
/// logged: left to their default action they would end the daemon without its priority 0
/// advert. `GET /status` gives what the dumps give.
fn forward_signals(tx: mpsc::Sender<Control>) -> std::io::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    tokio::spawn(async move {
        loop {
            let control = tokio::select! {
                _ = hup.recv() => Control::Reload,
                _ = term.recv() => Control::Shutdown,
                _ = int.recv() => Control::Shutdown,
                _ = usr1.recv() => {
                    warn!("SIGUSR1 (keepalived's data dump) ignored: vrrpd writes no dump files; GET /status on --status-addr gives the same");
                    continue;
                }
                _ = usr2.recv() => {
                    warn!("SIGUSR2 (keepalived's stats dump) ignored: vrrpd writes no dump files; GET /status on --status-addr gives the same");
                    continue;
                }
            };
            if tx.send(control).await.is_err() {
                return;
            }
        }
    });
    Ok(())
}
