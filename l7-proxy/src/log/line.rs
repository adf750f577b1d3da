//! Access log lines in HAProxy's `httplog` and `tcplog` formats.

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::syslog::accept_date;

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => d.as_millis().to_string(),
        None => "-1".into(),
    }
}

/// The fields of one `httplog` line.
#[derive(Debug, Clone)]
pub struct HttpLog<'a> {
    /// Client address.
    pub client: SocketAddr,
    /// When the request started (`%tr`).
    pub date: SystemTime,
    /// Frontend name.
    pub frontend: &'a str,
    /// Backend name, or the frontend's when none was chosen.
    pub backend: &'a str,
    /// Server name, or `<NOSRV>`.
    pub server: &'a str,
    /// Time to receive the request head (`%TR`).
    pub t_req: Option<Duration>,
    /// Time in queue (`%Tw`).
    pub t_queue: Option<Duration>,
    /// Time to connect (`%Tc`).
    pub t_connect: Option<Duration>,
    /// Server response time (`%Tr`).
    pub t_resp: Option<Duration>,
    /// Total active time (`%Ta`).
    pub t_total: Duration,
    /// Status sent to the client.
    pub status: u16,
    /// Bytes sent to the client.
    pub bytes: u64,
    /// Termination state, 2 chars (`--`, `SC`, `sH`...).
    pub term: [u8; 2],
    /// Process, frontend, backend, server connections, retries.
    pub conns: [usize; 5],
    /// Server queue, backend queue.
    pub queues: [usize; 2],
    /// Request line.
    pub request: &'a str,
}

impl HttpLog<'_> {
    /// Formats the line like HAProxy's `option httplog`.
    pub fn format(&self) -> String {
        let mut s = String::with_capacity(160);
        let _ = write!(
            s,
            "{} [{}] {} {}/{} {}/{}/{}/{}/{} {} {} - - {}{}-- {}/{}/{}/{}/{} {}/{} \"{}\"",
            self.client,
            accept_date(self.date),
            self.frontend,
            self.backend,
            self.server,
            ms(self.t_req),
            ms(self.t_queue),
            ms(self.t_connect),
            ms(self.t_resp),
            self.t_total.as_millis(),
            // No response sent: -1, as HAProxy logs it.
            if self.status == 0 {
                -1
            } else {
                i32::from(self.status)
            },
            self.bytes,
            char::from(self.term[0]),
            char::from(self.term[1]),
            self.conns[0],
            self.conns[1],
            self.conns[2],
            self.conns[3],
            self.conns[4],
            self.queues[0],
            self.queues[1],
            LogEncoded(self.request),
        );
        s
    }
}

/// A request line as HAProxy logs it: control bytes, bytes from 127 up, `"` and `#` as `#`
/// and two hex digits (its `url_encode_map`), so a client cannot end the quoted field or
/// forge a line, and log parsers built for HAProxy read ours.
struct LogEncoded<'a>(&'a str);

impl std::fmt::Display for LogEncoded<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let bytes = self.0.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !(32..127).contains(&b) || b == b'"' || b == b'#' {
                // Runs between escapes are plain ASCII, so valid UTF-8 on their own.
                f.write_str(self.0.get(start..i).unwrap_or_default())?;
                let hex = [b'#', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
                f.write_str(std::str::from_utf8(&hex).unwrap_or_default())?;
                start = i + 1;
            }
        }
        f.write_str(self.0.get(start..).unwrap_or_default())
    }
}

/// The fields of one `tcplog` line:
/// `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`.
#[derive(Debug, Clone)]
pub struct TcpLog<'a> {
    /// Client address.
    pub client: SocketAddr,
    /// When the connection was accepted.
    pub date: SystemTime,
    /// Frontend name.
    pub frontend: &'a str,
    /// Backend name, or the frontend's when none was chosen.
    pub backend: &'a str,
    /// Server name, or `<NOSRV>`.
    pub server: &'a str,
    /// Time in queue (`%Tw`).
    pub t_queue: Option<Duration>,
    /// Time to connect (`%Tc`).
    pub t_connect: Option<Duration>,
    /// Session duration (`%Tt`).
    pub t_total: Duration,
    /// Bytes sent to the client.
    pub bytes: u64,
    /// Termination state.
    pub term: [u8; 2],
    /// Process, frontend, backend, server connections, retries.
    pub conns: [usize; 5],
}

impl TcpLog<'_> {
    /// Formats the line like HAProxy's `option tcplog`.
    pub fn format(&self) -> String {
        let c = self.conns;
        format!(
            "{} [{}] {} {}/{} {}/{}/{} {} {}{} {}/{}/{}/{}/{} 0/0",
            self.client,
            accept_date(self.date),
            self.frontend,
            self.backend,
            self.server,
            ms(self.t_queue),
            ms(self.t_connect),
            self.t_total.as_millis(),
            self.bytes,
            char::from(self.term[0]),
            char::from(self.term[1]),
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn httplog_line() {
        let l = HttpLog {
            client: "127.0.0.1:40000".parse().unwrap_or_else(|_| unreachable!()),
            date: UNIX_EPOCH,
            frontend: "fe",
            backend: "be",
            server: "web1",
            t_req: Some(Duration::from_millis(1)),
            t_queue: Some(Duration::ZERO),
            t_connect: Some(Duration::from_millis(2)),
            t_resp: Some(Duration::from_millis(3)),
            t_total: Duration::from_millis(7),
            status: 200,
            bytes: 150,
            term: *b"--",
            conns: [1, 1, 0, 0, 0],
            queues: [0, 0],
            request: "GET / HTTP/1.1",
        };
        assert_eq!(
            l.format(),
            "127.0.0.1:40000 [01/Jan/1970:00:00:00.000] fe be/web1 1/0/2/3/7 200 150 - - ---- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\""
        );
    }

    #[test]
    fn request_lines_are_encoded_as_haproxy_does() {
        let enc = |s: &str| LogEncoded(s).to_string();
        assert_eq!(enc("GET /a?b=c HTTP/1.1"), "GET /a?b=c HTTP/1.1");
        assert_eq!(
            enc("GET /\"x\"#frag HTTP/1.1"),
            "GET /#22x#22#23frag HTTP/1.1"
        );
        assert_eq!(enc("GET /\tq\r\n"), "GET /#09q#0D#0A");
        assert_eq!(enc("GET /\u{7f}"), "GET /#7F");
        // Every byte of a multi-byte character, as HAProxy sees bytes.
        assert_eq!(enc("GET /é"), "GET /#C3#A9");
        // Characters HAProxy leaves alone in a request line, backslash among them.
        assert_eq!(enc("{|}\\ <>"), "{|}\\ <>");
    }
}
