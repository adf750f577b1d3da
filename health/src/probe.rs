//! One check run: TCP connect, HTTP exchange, or script.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{run_script, CheckKind, ScriptOutcome};

/// A connection a check speaks over once wrapped.
pub trait CheckIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> CheckIo for T {}

/// What a wrapped connection comes to: the stream, or why the wrapping failed.
pub type Wrapped<'a> = Pin<Box<dyn Future<Output = std::io::Result<Box<dyn CheckIo>>> + Send + 'a>>;

/// A layer between TCP and the check (TLS, for HAProxy's `check-ssl`): the health crate
/// speaks plain TCP and leaves the layer to its user.
pub trait Wrap: Send + Sync {
    /// Wraps a connected socket (a TLS handshake, say).
    fn wrap(&self, tcp: TcpStream) -> Wrapped<'_>;
}

/// A shared [`Wrap`], compared by identity.
#[derive(Clone)]
pub struct Layer(pub Arc<dyn Wrap>);

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Layer")
    }
}

impl PartialEq for Layer {
    fn eq(&self, other: &Layer) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Layer {}

/// An HTTP check: send one request, compare the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// The server to check.
    pub addr: SocketAddr,
    /// Request method (HAProxy's default is `OPTIONS`).
    pub method: String,
    /// Request URI (default `/`).
    pub uri: String,
    /// Optional `Host` header; without it the request is HTTP/1.0 as HAProxy sends.
    pub host: Option<String>,
    /// Expected status; `None` accepts any 2xx or 3xx, like HAProxy.
    pub expect_status: Option<u16>,
    /// A layer under HTTP (TLS with `check-ssl`).
    pub layer: Option<Layer>,
}

/// HAProxy's check status codes (the `check_status` field of its CSV stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    /// `L4OK`: TCP connection established.
    L4Ok,
    /// `L4TOUT`: TCP connect timed out.
    L4Timeout,
    /// `L4CON`: TCP connect failed (refused, unreachable...).
    L4Con,
    /// `L6OK`: the layer (TLS handshake) succeeded.
    L6Ok,
    /// `L6TOUT`: the layer (TLS handshake) timed out.
    L6Timeout,
    /// `L6RSP`: the layer (TLS handshake) failed.
    L6Rsp,
    /// `L7OK`: HTTP check passed.
    L7Ok,
    /// `L7TOUT`: no complete HTTP response in time.
    L7Timeout,
    /// `L7RSP`: not a valid HTTP response.
    L7Rsp,
    /// `L7STS`: valid response, wrong status.
    L7Sts,
    /// `PROCOK`: script exited with 0.
    ProcOk,
    /// `PROCERR`: script exited non-zero, was killed, or could not start.
    ProcErr,
    /// `PROCTOUT`: script timed out (its process group was killed).
    ProcTimeout,
}

impl CheckStatus {
    /// Whether this is a success.
    pub fn is_ok(self) -> bool {
        matches!(
            self,
            CheckStatus::L4Ok | CheckStatus::L6Ok | CheckStatus::L7Ok | CheckStatus::ProcOk
        )
    }

    /// HAProxy's short code (`L4CON`...).
    pub fn code(self) -> &'static str {
        match self {
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Timeout => "L4TOUT",
            CheckStatus::L4Con => "L4CON",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Timeout => "L6TOUT",
            CheckStatus::L6Rsp => "L6RSP",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7Timeout => "L7TOUT",
            CheckStatus::L7Rsp => "L7RSP",
            CheckStatus::L7Sts => "L7STS",
            CheckStatus::ProcOk => "PROCOK",
            CheckStatus::ProcErr => "PROCERR",
            CheckStatus::ProcTimeout => "PROCTOUT",
        }
    }

    /// HAProxy's description, as in "reason: Layer4 connection problem".
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Timeout => "Layer4 timeout",
            CheckStatus::L4Con => "Layer4 connection problem",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Timeout => "Layer6 timeout",
            CheckStatus::L6Rsp => "Layer6 invalid response",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7Timeout => "Layer7 timeout",
            CheckStatus::L7Rsp => "Layer7 invalid response",
            CheckStatus::L7Sts => "Layer7 wrong status",
            CheckStatus::ProcOk => "External check passed",
            CheckStatus::ProcErr => "External check error",
            CheckStatus::ProcTimeout => "External check timeout",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The outcome.
    pub status: CheckStatus,
    /// HTTP status code of an HTTP check, or exit code of a script.
    pub code: Option<i32>,
    /// A short human-readable detail ("Connection refused", "Service Unavailable").
    pub info: String,
    /// How long the check took.
    pub duration: Duration,
}

impl CheckResult {
    /// The reason part of HAProxy's log line:
    /// `Layer4 connection problem, info: "Connection refused", check duration: 0ms`.
    pub fn describe(&self) -> String {
        let mut s = self.status.description().to_string();
        if let Some(code) = self.code {
            s.push_str(&format!(", code: {code}"));
        }
        if !self.info.is_empty() {
            s.push_str(&format!(", info: \"{}\"", self.info));
        }
        s.push_str(&format!(
            ", check duration: {}ms",
            self.duration.as_millis()
        ));
        s
    }
}

/// Runs one check of `kind`, bounded by `timeout`.
pub async fn run_once(kind: &CheckKind, timeout: Duration) -> CheckResult {
    let start = Instant::now();
    let (status, code, info) = match kind {
        CheckKind::Tcp { addr } => match connect(*addr, timeout).await {
            Ok(_) => (CheckStatus::L4Ok, None, String::new()),
            Err(e) => e,
        },
        CheckKind::Layered { addr, layer } => match layered(*addr, layer, timeout, start).await {
            Ok(_) => (CheckStatus::L6Ok, None, String::new()),
            Err(e) => e,
        },
        CheckKind::Http(h) => http(h, timeout, start).await,
        CheckKind::Script(s) => match run_script(&s.argv, timeout, s.uid, s.gid).await {
            Ok(ScriptOutcome::Exited(0)) => (CheckStatus::ProcOk, Some(0), String::new()),
            Ok(ScriptOutcome::Exited(c)) => (CheckStatus::ProcErr, Some(c), String::new()),
            Ok(ScriptOutcome::Signaled(sig)) => (
                CheckStatus::ProcErr,
                None,
                format!("killed by signal {sig}"),
            ),
            Ok(ScriptOutcome::TimedOut) => (CheckStatus::ProcTimeout, None, String::new()),
            Err(e) => (CheckStatus::ProcErr, None, e.to_string()),
        },
    };
    CheckResult {
        status,
        code,
        info,
        duration: start.elapsed(),
    }
}

type Failure = (CheckStatus, Option<i32>, String);

async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, Failure> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err((CheckStatus::L4Con, None, io_info(&e))),
        Err(_) => Err((CheckStatus::L4Timeout, None, String::new())),
    }
}

/// Connects, then wraps the connection in `layer` within what is left of `timeout`.
async fn layered(
    addr: SocketAddr,
    layer: &Layer,
    timeout: Duration,
    start: Instant,
) -> Result<Box<dyn CheckIo>, Failure> {
    let tcp = connect(addr, timeout).await?;
    let remaining = timeout.saturating_sub(start.elapsed());
    match tokio::time::timeout(remaining, layer.0.wrap(tcp)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err((CheckStatus::L6Rsp, None, io_info(&e))),
        Err(_) => Err((CheckStatus::L6Timeout, None, String::new())),
    }
}

fn io_info(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "Connection reset by peer".into(),
        _ => e.to_string(),
    }
}

async fn http(h: &HttpCheck, timeout: Duration, start: Instant) -> Failure {
    let connected = match &h.layer {
        Some(layer) => layered(h.addr, layer, timeout, start).await,
        None => connect(h.addr, timeout)
            .await
            .map(|s| Box::new(s) as Box<dyn CheckIo>),
    };
    let mut stream = match connected {
        Ok(s) => s,
        Err(e) => return e,
    };
    let req = match &h.host {
        Some(host) => format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: halb-check\r\n\r\n",
            h.method, h.uri, host
        ),
        None => format!("{} {} HTTP/1.0\r\n\r\n", h.method, h.uri),
    };
    let remaining = timeout.saturating_sub(start.elapsed());
    let exchange = async {
        stream.write_all(req.as_bytes()).await?;
        stream.flush().await?;
        // The status line is all we need; 1 KiB is plenty for it.
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            buf.extend_from_slice(&chunk[..n]);
            if n == 0 || buf.contains(&b'\n') || buf.len() >= 1024 {
                return Ok::<_, std::io::Error>(buf);
            }
        }
    };
    let buf = match tokio::time::timeout(remaining, exchange).await {
        Err(_) => return (CheckStatus::L7Timeout, None, String::new()),
        Ok(Err(e)) => return (CheckStatus::L7Rsp, None, io_info(&e)),
        Ok(Ok(b)) => b,
    };
    let Some((code, reason)) = parse_status_line(&buf) else {
        return (CheckStatus::L7Rsp, None, "invalid status line".into());
    };
    let ok = match h.expect_status {
        Some(want) => code == want,
        None => (200..400).contains(&code),
    };
    let status = if ok {
        CheckStatus::L7Ok
    } else {
        CheckStatus::L7Sts
    };
    (status, Some(i32::from(code)), reason)
}

/// Parses `HTTP/1.x NNN reason` from the start of `buf`.
fn parse_status_line(buf: &[u8]) -> Option<(u16, String)> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&buf[..end])
        .ok()?
        .trim_end_matches('\r');
    let rest = line.strip_prefix("HTTP/1.")?;
    let mut parts = rest.splitn(3, ' ');
    let _minor = parts.next()?;
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    Some((code, parts.next().unwrap_or("").to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line() {
        assert_eq!(
            parse_status_line(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some((503, "Service Unavailable".into()))
        );
        assert_eq!(
            parse_status_line(b"HTTP/1.0 200\r\n"),
            Some((200, "".into()))
        );
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 20 OK\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), None);
    }
}
