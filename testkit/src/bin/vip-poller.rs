//! `vip-poller --target ADDR:PORT [--interval-ms 10] [--timeout-ms 20] [--answer-timeout-ms T]
//! --duration-ms N`
//!
//! Polls an HTTP service (e.g. on a VIP) at a fixed rate: each poll connects with a short
//! timeout, sends `GET / HTTP/1.0` and reads the answer. When the duration is over it prints
//! one JSON line: counts, the longest gap between two successful responses (the outage a
//! client saw), when it began and ended (ms since start), which responder answered before
//! and after it, the time from the last success to the end (`tail_gap_ms`: large when the
//! service never came back), and every gap longer than 3 intervals.
//!
//! Bounded: exactly `duration-ms` of polling, each attempt at most 2 × timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn usage() -> ! {
    eprintln!(
        "usage: vip-poller --target ADDR:PORT --duration-ms N [--interval-ms 10] [--timeout-ms 20] [--answer-timeout-ms T]"
    );
    std::process::exit(2)
}

fn num(v: Option<String>) -> u64 {
    v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage())
}

/// Why a poll got no answer.
enum Miss {
    /// No connection within the timeout, or refused: nothing was sent.
    NotConnected,
    /// The request went out and no 200 came back: a lost request.
    Lost,
}

/// One request; the body's first line (the responder's name) on success. The answer is
/// complete at the end of its Content-Length (or at EOF without one): a reset after it, as
/// when the client's last ACK reaches a node that has just taken the VIP, does not undo it.
fn poll(target: &SocketAddr, timeout: Duration, answer: Duration) -> Result<String, Miss> {
    let mut s = TcpStream::connect_timeout(target, timeout).map_err(|_| Miss::NotConnected)?;
    let _ = s.set_read_timeout(Some(answer));
    let _ = s.set_write_timeout(Some(answer));
    let _ = s.set_nodelay(true);
    s.write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
        .map_err(|_| Miss::Lost)?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        if let Some(name) = complete_200(&buf, false) {
            return Ok(name);
        }
        match s.read(&mut chunk) {
            Ok(0) => return complete_200(&buf, true).ok_or(Miss::Lost),
            Ok(n) if buf.len() < 64 * 1024 => buf.extend_from_slice(&chunk[..n]),
            _ => return Err(Miss::Lost),
        }
    }
}

/// The first body line of a complete 200 in `buf` (`eof`: the peer has closed).
fn complete_200(buf: &[u8], eof: bool) -> Option<String> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.") || !head.lines().next()?.contains(" 200 ") {
        return None;
    }
    let len = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let complete = match len {
        Some(n) => body.len() >= n,
        None => eof,
    };
    complete.then(|| body.lines().next().unwrap_or("").trim().to_owned())
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The command line.
struct Opts {
    target: SocketAddr,
    interval: Duration,
    /// Connect timeout.
    timeout: Duration,
    /// Read and write timeout once connected (default: `timeout`).
    answer: Duration,
    duration: Duration,
}

fn parse_args() -> Opts {
    let mut target = None;
    let mut interval = 10u64;
    let mut timeout = 20u64;
    let mut duration = None;
    let mut answer = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--target" => target = args.next().and_then(|s| s.parse::<SocketAddr>().ok()),
            "--interval-ms" => interval = num(args.next()),
            "--timeout-ms" => timeout = num(args.next()),
            "--duration-ms" => duration = Some(num(args.next())),
            "--answer-timeout-ms" => answer = Some(num(args.next())),
            _ => usage(),
        }
    }
    let (Some(target), Some(duration)) = (target, duration) else {
        usage()
    };
    if interval == 0 || timeout == 0 {
        usage()
    }
    Opts {
        target,
        interval: Duration::from_millis(interval),
        timeout: Duration::from_millis(timeout),
        answer: Duration::from_millis(answer.unwrap_or(timeout)),
        duration: Duration::from_millis(duration),
    }
}

/// What the polls saw so far; times are since the start.
#[derive(Default)]
struct Tally {
    ok: u64,
    fail: u64,
    /// Of `fail`: requests sent and not answered.
    lost: u64,
    /// The last success and its responder.
    last_ok: Option<(Duration, String)>,
    first_ok: Option<Duration>,
    /// The longest gap between two successes: from, to, responder before, after.
    longest: Option<(Duration, Duration, String, String)>,
    /// Every gap longer than 3 intervals.
    gaps: Vec<(Duration, Duration)>,
    /// Successes per responder, in order of first answer.
    responders: Vec<(String, u64)>,
}

impl Tally {
    /// A success at `t` from `name`.
    fn success(&mut self, t: Duration, name: String, interval: Duration) {
        self.ok += 1;
        match self.responders.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => self.responders.push((name.clone(), 1)),
        }
        if self.first_ok.is_none() {
            self.first_ok = Some(t);
        }
        if let Some((prev, prev_name)) = &self.last_ok {
            let gap = t.saturating_sub(*prev);
            if gap > interval * 3 {
                self.gaps.push((*prev, t));
            }
            let longer = match &self.longest {
                None => true,
                Some((a, b, _, _)) => gap > b.saturating_sub(*a),
            };
            if longer {
                self.longest = Some((*prev, t, prev_name.clone(), name.clone()));
            }
        }
        self.last_ok = Some((t, name));
    }

    /// The JSON line, `elapsed` after the start (`start_wall`, Unix seconds).
    fn report(&self, start_wall: f64, elapsed: Duration) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        // Time from the last success to the end: a long one means the service never came
        // back.
        let tail = match &self.last_ok {
            Some((t, _)) => elapsed.saturating_sub(*t),
            None => elapsed,
        };
        let (gap_ms, gap_from, gap_to, before, after) = match &self.longest {
            Some((a, b, n1, n2)) => (
                ms(b.saturating_sub(*a)),
                ms(*a),
                ms(*b),
                n1.clone(),
                n2.clone(),
            ),
            None => (-1.0, -1.0, -1.0, String::new(), String::new()),
        };
        let resp: Vec<String> = self
            .responders
            .iter()
            .map(|(n, c)| format!("{}:{c}", json_str(n)))
            .collect();
        let gl: Vec<String> = self
            .gaps
            .iter()
            .map(|(a, b)| format!("[{:.1},{:.1}]", ms(*a), ms(*b)))
            .collect();
        format!(
            "{{\"start_unix\":{start_wall:.3},\"ok\":{},\"fail\":{},\"lost\":{},\"longest_gap_ms\":{gap_ms:.1},\"gap_from_ms\":{gap_from:.1},\"gap_to_ms\":{gap_to:.1},\"before\":{},\"after\":{},\"first_ok_ms\":{:.1},\"tail_gap_ms\":{:.1},\"responders\":{{{}}},\"gaps\":[{}]}}",
            self.ok,
            self.fail,
            self.lost,
            json_str(&before),
            json_str(&after),
            self.first_ok.map(ms).unwrap_or(-1.0),
            ms(tail),
            resp.join(","),
            gl.join(",")
        )
    }
}

fn main() {
    let opts = parse_args();
    let start_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut k: u32 = 0;
    while start.elapsed() < opts.duration {
        match poll(&opts.target, opts.timeout, opts.answer) {
            Ok(name) => tally.success(start.elapsed(), name, opts.interval),
            Err(miss) => {
                tally.fail += 1;
                if let Miss::Lost = miss {
                    tally.lost += 1;
                }
            }
        }
        // Fixed rate: the next poll at start + k × interval (at once if behind).
        k = k.saturating_add(1);
        let next = opts.interval * k;
        let now = start.elapsed();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            k = u32::try_from(now.as_nanos() / opts.interval.as_nanos().max(1)).unwrap_or(u32::MAX);
        }
    }
    println!("{}", tally.report(start_wall, start.elapsed()));
}
