//! Getting the text each source publishes: an HTTP GET (HAProxy's or lbproxy's stats page,
//! vrrpd's status; HTTP basic auth from the URI's user info), a command on HAProxy's CLI
//! socket (`show stat`), and keepalived's dump files after a signal. The caller bounds each
//! with its deadline; nothing here retries forever.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::Uri;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The most a page or dump may hold (a 10,000-server CSV is about 10 MiB).
pub const MAX_BODY: usize = 64 << 20;

/// Why a source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URI is not one lb-exporter can fetch.
    #[error("{uri}: {why}")]
    BadUri {
        /// As given (credentials removed).
        uri: String,
        /// Why.
        why: String,
    },
    /// Connecting, writing or reading failed.
    #[error("{target}: {source}")]
    Io {
        /// What was being read.
        target: String,
        /// The error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("{target}: HTTP: {what}")]
    Http {
        /// The URI.
        target: String,
        /// What failed.
        what: String,
    },
    /// A status other than 2xx.
    #[error("{target}: HTTP status {status}")]
    Status {
        /// The URI.
        target: String,
        /// The status.
        status: u16,
    },
    /// The body is not UTF-8.
    #[error("{target}: the answer is not UTF-8 text")]
    NotText {
        /// What was read.
        target: String,
    },
}

/// An HTTP URI to GET, its credentials apart.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    uri: Uri,
    host: String,
    port: u16,
    authorization: Option<String>,
    display: String,
}

impl HttpTarget {
    /// Parses `http://[user:pass@]host[:port]/path`. Only plain HTTP: scrape over loopback.
    pub fn parse(text: &str) -> Result<HttpTarget, FetchError> {
        let bad = |why: &str| FetchError::BadUri {
            uri: redact(text),
            why: why.to_string(),
        };
        let uri: Uri = text.parse().map_err(|e| bad(&format!("not a URI: {e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "scheme {other} is not supported: http:// or unix:/path/to/socket"
                )))
            }
            None => return Err(bad("no scheme: write http://HOST:PORT/PATH")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let authorization = authority.as_str().rsplit_once('@').map(|(user_info, _)| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(user_info);
            format!("Basic {encoded}")
        });
        let host = authority.host().trim_matches(['[', ']']).to_string();
        let port = authority.port_u16().unwrap_or(80);
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let target: Uri = path.parse().map_err(|e| bad(&format!("path: {e}")))?;
        Ok(HttpTarget {
            display: redact(text),
            uri: target,
            host,
            port,
            authorization,
        })
    }

    /// The URI without its password, for logs and labels.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// GETs the page (one connection per call) and returns its body.
    pub async fn get(&self) -> Result<String, FetchError> {
        let io_err = |source| FetchError::Io {
            target: self.display.clone(),
            source,
        };
        let http_err = |e: &dyn std::fmt::Display| FetchError::Http {
            target: self.display.clone(),
            what: e.to_string(),
        };
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(io_err)?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| http_err(&e))?;
        // The connection is driven by a task of its own, which ends with this call: when it
        // returns, and when the caller's deadline drops it mid-way (no socket outlives a
        // scrape, however the peer behaves).
        let _conn = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let host = if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut request = hyper::Request::get(self.uri.clone())
            .header(hyper::header::HOST, host)
            .header(hyper::header::USER_AGENT, "lb-exporter");
        if let Some(auth) = &self.authorization {
            request = request.header(hyper::header::AUTHORIZATION, auth);
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| http_err(&e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| http_err(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                target: self.display.clone(),
                status: status.as_u16(),
            });
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| http_err(&*e))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| FetchError::NotText {
            target: self.display.clone(),
        })
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `text` with the password of its user info replaced by `xxx`.
pub fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:xxx@{host}{}", &rest[authority_end..])
        }
        None => text.to_string(),
    }
}

/// The socket path of `unix:/path` or `unix:///path`.
pub fn unix_path(text: &str) -> Option<PathBuf> {
    let path = text.strip_prefix("unix:")?;
    let path = path.strip_prefix("//").unwrap_or(path);
    path.starts_with('/').then(|| PathBuf::from(path))
}

/// Sends `command` (with a newline) on HAProxy's CLI socket at `path` and returns what it
/// answers until it closes the connection (it does after one command).
pub async fn unix_command(path: &Path, command: &str) -> Result<String, FetchError> {
    let target = format!("unix:{}", path.display());
    let io_err = |source| FetchError::Io {
        target: target.clone(),
        source,
    };
    let mut stream = tokio::net::UnixStream::connect(path)
        .await
        .map_err(io_err)?;
    stream
        .write_all(format!("{command}\n").as_bytes())
        .await
        .map_err(io_err)?;
    let mut body = Vec::new();
    (&mut stream)
        .take(MAX_BODY as u64)
        .read_to_end(&mut body)
        .await
        .map_err(io_err)?;
    String::from_utf8(body).map_err(|_| FetchError::NotText { target })
}

/// Reads the pid in `pid_file`.
pub fn read_pid(pid_file: &Path) -> Result<i32, FetchError> {
    let target = pid_file.display().to_string();
    let text = std::fs::read_to_string(pid_file).map_err(|source| FetchError::Io {
        target: target.clone(),
        source,
    })?;
    text.trim().parse().map_err(|_| FetchError::Io {
        target,
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a pid: {:?}", text.trim()),
        ),
    })
}

/// Sends signal number `signal` to `pid`, realtime signals (keepalived's JSON one) included.
pub async fn send_signal(pid: i32, signal: i32) -> Result<(), FetchError> {
    let target = format!("pid {pid}");
    if let Ok(sig) = nix::sys::signal::Signal::try_from(signal) {
        return nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).map_err(|e| {
            FetchError::Io {
                target,
                source: e.into(),
            }
        });
    }
    // nix names only the standard signals; kill(1) sends any number.
    let status = tokio::process::Command::new("kill")
        .args(["-s", &signal.to_string(), &pid.to_string()])
        .status()
        .await
        .map_err(|source| FetchError::Io {
            target: target.clone(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(FetchError::Io {
            target,
            source: std::io::Error::other(format!("kill -s {signal} failed ({status})")),
        })
    }
}

/// The modification time of `path`, if it exists.
pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Waits until `path` was modified after `before` and has stayed unchanged for a poll
/// interval (keepalived writes a dump with several writes), then reads it. Polls every
/// 5 ms; the caller's deadline bounds the wait.
pub async fn read_fresh(path: &Path, before: Option<SystemTime>) -> Result<String, FetchError> {
    let poll = Duration::from_millis(5);
    let mut seen = None;
    loop {
        let now = modified(path).zip(std::fs::metadata(path).ok().map(|m| m.len()));
        let fresh = now.is_some_and(|(t, _)| before.is_none_or(|b| t > b));
        if fresh && now == seen {
            break;
        }
        seen = now;
        tokio::time::sleep(poll).await;
    }
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| FetchError::Io {
            target: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_go_to_the_authorization_header_and_never_to_logs() {
        let t = HttpTarget::parse("http://admin:s3cret@127.0.0.1:9188/stats;csv").expect("uri");
        assert_eq!(t.display(), "http://admin:xxx@127.0.0.1:9188/stats;csv");
        assert_eq!(t.authorization.as_deref(), Some("Basic YWRtaW46czNjcmV0"));
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 9188));
        assert_eq!(t.uri.to_string(), "/stats;csv");
        let plain = HttpTarget::parse("http://[::1]/status").expect("uri");
        assert_eq!((plain.host.as_str(), plain.port), ("::1", 80));
        assert!(plain.authorization.is_none());
    }

    #[test]
    fn only_plain_http_and_unix_sockets_are_fetched() {
        let err = HttpTarget::parse("https://u:p@lb:443/;csv").expect_err("no TLS");
        assert!(
            err.to_string()
                .starts_with("https://u:xxx@lb:443/;csv: scheme https"),
            "{err}"
        );
        assert!(HttpTarget::parse("lb:9188/stats").is_err());
        assert_eq!(
            unix_path("unix:/run/haproxy/admin.sock"),
            Some("/run/haproxy/admin.sock".into())
        );
        assert_eq!(
            unix_path("unix:///run/haproxy/admin.sock"),
            Some("/run/haproxy/admin.sock".into())
        );
        assert_eq!(unix_path("unix:relative"), None);
    }
}
