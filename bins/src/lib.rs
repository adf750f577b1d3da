//! Shared start-up code of the binaries: logging set-up and pid files; the keyword
//! reference (`keyword_ref`) behind `docs/keywords.md`.

pub mod keyword_ref;

use std::path::{Path, PathBuf};

use health::syslog::{self, Severity, FACILITY_DAEMON};

/// Installs the `tracing` subscriber used by every binary: one line per event on stderr,
/// filtered by `RUST_LOG` (default `info`).
pub fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in journald or files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Installs the `tracing` subscriber that sends each event to the local syslog daemon on
/// `/dev/log`: one RFC 3164 datagram per event, facility daemon, `TAG[PID]: ` before the
/// message, the level as severity. When `/dev/log` cannot be reached, logs to stderr as
/// [`init_logging`] does and says so on stderr. Returns whether syslog is used.
pub fn init_syslog(tag: &'static str, default_level: &str) -> bool {
    init_syslog_at(Path::new("/dev/log"), tag, default_level)
}

/// [`init_syslog`] with another socket path (tests).
pub fn init_syslog_at(path: &Path, tag: &'static str, default_level: &str) -> bool {
    let socket = std::os::unix::net::UnixDatagram::unbound().and_then(|s| {
        s.connect(path)?;
        Ok(s)
    });
    let socket = match socket {
        Ok(s) => s,
        Err(e) => {
            init_logging(default_level);
            tracing::warn!(
                "syslog socket {} unusable ({e}): logging to stderr",
                path.display()
            );
            return false;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(SyslogWriter {
            socket: std::sync::Arc::new(socket),
            tag,
        })
        .with_ansi(false)
        .without_time()
        .try_init();
    true
}

/// A `MakeWriter` that turns each formatted event into one syslog datagram.
#[derive(Debug, Clone)]
struct SyslogWriter {
    socket: std::sync::Arc<std::os::unix::net::UnixDatagram>,
    tag: &'static str,
}

/// One event being formatted; sent when dropped.
struct SyslogLine {
    socket: std::sync::Arc<std::os::unix::net::UnixDatagram>,
    tag: &'static str,
    severity: Severity,
    buf: Vec<u8>,
}

impl std::io::Write for SyslogLine {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        let line = syslog::line(
            FACILITY_DAEMON,
            self.severity,
            std::time::SystemTime::now(),
            self.tag,
            std::process::id(),
            text,
        );
        // A full or absent syslog loses the line rather than blocking the daemon.
        let _ = self.socket.send(line.as_bytes());
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SyslogWriter {
    type Writer = SyslogLine;

    /// Without an event's metadata (tracing's fmt layer always passes it): informational.
    fn make_writer(&'a self) -> SyslogLine {
        self.line(Severity::Informational)
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine {
        self.line(Severity::of_level(meta.level()))
    }
}

impl SyslogWriter {
    fn line(&self, severity: Severity) -> SyslogLine {
        SyslogLine {
            socket: std::sync::Arc::clone(&self.socket),
            tag: self.tag,
            severity,
            buf: Vec::with_capacity(256),
        }
    }
}

/// The single-threaded tokio runtime of vrrpd and lb-exporter (one task runs the daemon;
/// the exporter waits on I/O), or the failure logged and exit code 1.
pub fn current_thread_runtime() -> Result<tokio::runtime::Runtime, std::process::ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            tracing::error!("starting the runtime: {e}");
            std::process::ExitCode::from(1)
        })
}

/// Pid files holding this process's id while it runs (keepalived's `-p`, HAProxy's `-p` and
/// `pidfile`): written by [`PidFiles::write`], removed when dropped.
#[derive(Debug)]
pub struct PidFiles {
    paths: Vec<PathBuf>,
}

/// A pid file that could not be written.
#[derive(Debug)]
pub struct PidFileError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl std::fmt::Display for PidFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "writing pid file {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for PidFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl PidFiles {
    /// Writes the process id and a newline to each of `paths`. On an error the files
    /// already written are removed again.
    pub fn write(paths: impl IntoIterator<Item = PathBuf>) -> Result<PidFiles, PidFileError> {
        let mut written = PidFiles { paths: Vec::new() };
        let pid = format!("{}\n", std::process::id());
        for path in paths {
            if let Err(source) = std::fs::write(&path, &pid) {
                return Err(PidFileError { path, source });
            }
            written.paths.push(path);
        }
        Ok(written)
    }
}

impl Drop for PidFiles {
    fn drop(&mut self) {
        for path in &self.paths {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn events_reach_the_socket_as_datagrams() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log");
        let server = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        assert!(init_syslog_at(&path, "vrrpd", "info"));
        tracing::warn!(instance = "VI_1", "something happened");
        let mut buf = [0u8; 1024];
        let n = server.recv(&mut buf).expect("a datagram");
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(line.starts_with("<28>"), "daemon.warning: {line}");
        assert!(
            line.contains(&format!(" vrrpd[{}]: ", std::process::id())),
            "{line}"
        );
        assert!(line.contains("something happened"), "{line}");
        assert!(
            line.contains("instance=\"VI_1\"") || line.contains("instance=VI_1"),
            "{line}"
        );
        assert!(!line.ends_with('\n'), "{line:?}");
    }

    #[test]
    fn pid_files_hold_the_pid_until_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let (a, b) = (dir.path().join("a.pid"), dir.path().join("b.pid"));
        let files = PidFiles::write([a.clone(), b.clone()]).expect("written");
        let want = format!("{}\n", std::process::id());
        assert_eq!(std::fs::read_to_string(&a).expect("a"), want);
        assert_eq!(std::fs::read_to_string(&b).expect("b"), want);
        drop(files);
        assert!(!a.exists() && !b.exists());
        let err = PidFiles::write([a.clone(), dir.path().join("no/such/dir.pid")])
            .expect_err("no such directory");
        assert!(err.to_string().starts_with("writing pid file "), "{err}");
        assert!(!a.exists(), "the first one is removed again");
    }
}
