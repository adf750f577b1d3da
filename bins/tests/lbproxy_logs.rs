//! The `lbproxy` binary's logs: the httplog line on syslog and stderr field by field,
//! server state changes, and failures logged at a bounded rate.

mod lbproxy_run;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use lbproxy_run::*;

/// Datagrams from lbproxy's syslog target, kept for the failure message.
struct Syslog {
    sock: std::net::UdpSocket,
    seen: Vec<String>,
}

impl Syslog {
    fn bind() -> Syslog {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp bind");
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Syslog {
            sock,
            seen: Vec::new(),
        }
    }

    fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }

    /// The first datagram (seen before or arriving within 10 s) that `want` accepts.
    fn wait_for(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        let mut b = [0u8; 2048];
        loop {
            if let Some(l) = self.seen.iter().find(|l| want(l)) {
                return l.clone();
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no syslog datagram {what}; got:\n{}",
                self.seen.join("\n")
            );
            if let Ok(n) = self.sock.recv(&mut b) {
                self.seen
                    .push(String::from_utf8_lossy(&b[..n]).into_owned());
            }
        }
    }
}

/// `%tr`: `01/Dec/2026:07:59:31.529`.
fn is_accept_date(d: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = d.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        d.get(r)
            .is_some_and(|s| s.bytes().all(|c| c.is_ascii_digit()))
    };
    d.len() == 24
        && digits(0..2)
        && b[2] == b'/'
        && MONTHS.contains(&&d[3..6])
        && b[6] == b'/'
        && digits(7..11)
        && b[11] == b':'
        && digits(12..14)
        && b[14] == b':'
        && digits(15..17)
        && b[17] == b':'
        && digits(18..20)
        && b[20] == b'.'
        && digits(21..24)
}

/// `option httplog` with a UDP syslog target and `log stderr`: the line of one request,
/// checked field by field against HAProxy's httplog format (what haproxy 2.6 sends for the
/// same exchange: `<134>Dec  1 07:59:31 haproxy[31339]: 127.0.0.1:38070
/// [01/Dec/2026:07:59:31.529] fe be/s1 0/0/0/1/1 200 133 - - ---- 1/1/0/0/0 0/0 "GET /
/// HTTP/1.1"`), on both targets. Server state changes (DOWN, no server left, UP) reach
/// syslog too, at HAProxy's severities.
#[test]
fn httplog_line_on_syslog_and_stderr_and_state_changes_on_syslog() {
    let be = backend();
    let dead = free_port();
    let fe = free_port();
    let mut syslog = Syslog::bind();
    let dir = tempfile::tempdir().expect("dir");
    let run = Running::start(
        dir.path(),
        &format!(
            "global\n    log 127.0.0.1:{} local0\n    log stderr local0\n\
             defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
             backend be\n    server s1 127.0.0.1:{be}\n\
             backend dead\n    server d1 127.0.0.1:{dead} check inter 100ms fall 1\n",
            syslog.port()
        ),
    );
    run.wait_serving(fe, "hello from backend");

    let mut s = TcpStream::connect(("127.0.0.1", fe)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let client = s.local_addr().expect("addr");
    s.write_all(b"GET /path?q=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("response");
    assert!(answer.starts_with(b"HTTP/1.1 200 "));

    let mark = format!("]: {client} [");
    let line = syslog.wait_for("for our request", |l| l.contains(&mark));
    // `<PRI>Mmm dd hh:mm:ss haproxy[PID]: ` with PRI = local0 (16) * 8 + info (6).
    let (hdr, msg) = line.split_once("]: ").expect("tag");
    assert!(hdr.starts_with("<134>"), "{line}");
    let date = &hdr[5..hdr.len().min(20)];
    assert_eq!(date.len(), 15, "{line}");
    assert_eq!(&date[3..4], " ", "{line}");
    assert_eq!(date.as_bytes()[9], b':', "{line}");
    assert_eq!(&hdr[20..], format!(" haproxy[{}", run.pid()), "{line}");
    // The request line is the quoted last field.
    let (fields, request) = msg.split_once(" \"").expect("quoted request");
    assert_eq!(request, "GET /path?q=1 HTTP/1.1\"", "{line}");
    let f: Vec<&str> = fields.split(' ').collect();
    assert_eq!(f.len(), 12, "{line}");
    assert_eq!(f[0], client.to_string(), "%ci:%cp");
    let tr = f[1]
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .unwrap_or("");
    assert!(is_accept_date(tr), "%tr: {line}");
    assert_eq!(f[2], "fe", "%ft");
    assert_eq!(f[3], "be/s1", "%b/%s");
    let t: Vec<i64> = f[4].split('/').map(|x| x.parse().expect("timer")).collect();
    assert_eq!(t.len(), 5, "%TR/%Tw/%Tc/%Tr/%Ta: {line}");
    assert!(t.iter().all(|&x| x >= 0), "all timers known: {line}");
    assert!(t[4] >= t[1] + t[2] + t[3], "Ta covers Tw+Tc+Tr: {line}");
    assert_eq!(f[5], "200", "%ST");
    assert_eq!(f[6], answer.len().to_string(), "%B = bytes the client got");
    assert_eq!((f[7], f[8]), ("-", "-"), "%CC %CS");
    assert_eq!(f[9], "----", "%tsc");
    let c: Vec<usize> = f[10]
        .split('/')
        .map(|x| x.parse().expect("conn count"))
        .collect();
    assert_eq!(c.len(), 5, "%ac/%fc/%bc/%sc/%rc: {line}");
    assert!(c[0] >= 1 && c[1] >= 1 && c[1] <= c[0], "{line}");
    assert_eq!(c[4], 0, "no retries: {line}");
    assert_eq!(f[11], "0/0", "%sq/%bq");
    // The same line on stderr.
    let t0 = Instant::now();
    while !run.log().contains(msg) {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "access line not on stderr: {msg}\n{}",
            run.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // State changes: DOWN at alert (16 * 8 + 1), "no server available" at emerg.
    let down = syslog.wait_for("for the DOWN server", |l| {
        l.contains("Server dead/d1 is DOWN")
    });
    assert!(down.starts_with("<129>"), "{down}");
    assert!(down.contains("reason: Layer4 connection problem"), "{down}");
    let none = syslog.wait_for("for the empty backend", |l| {
        l.contains("backend dead has no server available!")
    });
    assert!(none.starts_with("<128>"), "{none}");
    // The server comes back: UP at notice (16 * 8 + 5).
    let back = TcpListener::bind(("127.0.0.1", dead)).expect("rebind the dead port");
    let up = syslog.wait_for("for the server back UP", |l| {
        l.contains("Server dead/d1 is UP")
    });
    assert!(up.starts_with("<133>"), "{up}");
    drop(back);
    eprintln!("{line}\n{down}\n{none}\n{up}");
}

/// A dead server refuses every connect until a check would mark it down: the warning is
/// logged once per second with the failures it stands for, not once per request (the soak
/// test saw 3,795 lines in one second).
#[test]
fn refused_connects_are_logged_once_per_second() {
    let fe = free_port();
    let dead = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let run = Running::start(
        dir.path(),
        &format!(
            "defaults\n    mode http\n    retries 0\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{fe}\n    default_backend be\n\
             backend be\n    server dead 127.0.0.1:{dead}\n"
        ),
    );
    run.wait_serving(fe, "503");
    for _ in 0..200 {
        assert!(get(fe).is_some_and(|a| a.starts_with("HTTP/1.1 503")));
    }
    let log = run.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("connect to be/dead"))
        .count();
    assert!((1..=3).contains(&lines), "{lines} lines:\n{log}");
}
