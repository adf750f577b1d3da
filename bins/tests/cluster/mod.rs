//! The HA cluster as operators run it, in namespaces: two LB nodes (`lb1` priority 110,
//! `lb2` priority 100), each with `vrrpd` and `lbproxy`; two backends (`be1`, `be2`: each an
//! `lbproxy` answering its own name, so a backend is a process that can be killed); and a
//! `client` node sending requests to the VIP from several threads ([`Load`]) while a test
//! injects a fault.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use testkit::{spawn, Lab, ProcessGuard, Signal};

use crate::common::{has_vip, within, Vrrpd};

pub const VIP: &str = "198.18.0.100";
const PORT: u16 = 80;
const BACKEND_PORT: u16 = 8080;

pub fn vip() -> IpAddr {
    VIP.parse().expect("literal address")
}

/// VRRP settings of a cluster: the version and advert interval, and lines added to both
/// instances (e.g. `nopreempt`, `track_process`).
#[derive(Clone)]
pub struct Vrrp {
    pub advert_int: &'static str,
    pub version: u8,
    pub extra: String,
    /// Blocks before the instance.
    pub top: String,
    /// Each node's vrrpd tracks its own lbproxy (`vrrp_track_process`, weight 0: the
    /// instance goes to FAULT when the proxy dies).
    pub track_proxy: bool,
}

impl Vrrp {
    /// VRRPv3 at 0.05 s: Master_Down_Interval 3 × 50 ms + Skew_Time. A returning node
    /// preempts after 1 s (`preempt_delay`), once its proxy's checks have seen the backends
    /// up again: without it, a node whose link comes back takes the VIP while its servers
    /// are still marked down and answers 503.
    pub fn fast() -> Vrrp {
        Vrrp {
            advert_int: "0.05",
            version: 3,
            extra: "preempt_delay 1".into(),
            top: String::new(),
            track_proxy: false,
        }
    }

    /// The node's keepalived.conf; `proxy_cfg` is its lbproxy's config file.
    fn conf(&self, priority: u8, proxy_cfg: &Path) -> String {
        let (track_block, track_line) = if self.track_proxy {
            // Matched on the command line: every node's lbproxy runs the same binary, so
            // the config file tells this node's from the others (one pid namespace).
            let block = format!(
                "vrrp_track_process proxy {{
    process \"{}\" -f \"{}\"
    weight 0
}}",
                env!("CARGO_BIN_EXE_lbproxy"),
                proxy_cfg.display()
            );
            (block, "track_process {\n        proxy\n    }")
        } else {
            (String::new(), "")
        };
        format!(
            "{top}
{track_block}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert}
    version {version}
    {extra}
    {track_line}
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
",
            top = self.top,
            advert = self.advert_int,
            version = self.version,
            extra = self.extra,
        )
    }
}

/// An `lbproxy` in a namespace.
pub struct Proxy {
    pub proc: ProcessGuard,
}

impl Proxy {
    /// Writes `conf` into `dir` and starts lbproxy on it (a restarted proxy has the same
    /// command line, which `vrrp_track_process` matches).
    fn start(ns: &str, conf: &str, dir: &Path) -> Proxy {
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, conf).expect("config written");
        let proc = spawn(
            ns,
            [
                env!("CARGO_BIN_EXE_lbproxy"),
                "-f",
                path.to_str().expect("utf-8 temp path"),
            ],
        )
        .unwrap_or_else(|e| panic!("lbproxy in {ns}: {e}"));
        Proxy { proc }
    }

    /// SIGHUP: the proxy reloads its (unchanged) config.
    pub fn reload(&mut self) {
        self.proc.signal(Signal::SIGHUP).expect("SIGHUP sent");
    }
}

/// The load balancer's haproxy.cfg: `*:80` to both backends, checked every 100 ms, with
/// retries and redispatch so a dead server costs no request.
fn lb_cfg(lab: &Lab) -> String {
    format!(
        "global
    maxconn 500
    log stderr format raw local0
defaults
    mode http
    log global
    option httplog
    retries 3
    option redispatch
    timeout connect 200ms
    timeout client 5s
    timeout server 5s
frontend web
    bind *:{PORT}
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /
    server be1 {be1}:{BACKEND_PORT} check inter 100ms fall 1 rise 2
    server be2 {be2}:{BACKEND_PORT} check inter 100ms fall 1 rise 2
",
        be1 = lab.node("be1").ipv4(),
        be2 = lab.node("be2").ipv4(),
    )
}

/// A backend: an lbproxy answering every request with its name.
fn backend_cfg(name: &str) -> String {
    format!(
        "global
    maxconn 500
defaults
    mode http
    timeout client 5s
frontend app
    bind *:{BACKEND_PORT}
    http-request return status 200 content-type text/plain string \"{name}\"
"
    )
}

/// The cluster. Dropping it stops every process and removes the namespaces.
pub struct Cluster {
    /// lb1's and lb2's, then be1's and be2's lbproxy config directories.
    dirs: [tempfile::TempDir; 4],
    pub lab: Lab,
    pub vrrp: Vrrp,
    pub vrrpd: [Option<Vrrpd>; 2],
    pub proxies: [Option<Proxy>; 2],
    pub backends: [Option<Proxy>; 2],
    /// Held for the cluster's life: the clusters of a test binary run one at a time. Each
    /// measures an outage in milliseconds, and seven clusters at once on two cores starve
    /// each other's client threads (a 60 ms failover was seen as 215 ms).
    _alone: std::sync::MutexGuard<'static, ()>,
}

/// See [`Cluster::_alone`].
static ONE_CLUSTER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub const LBS: [&str; 2] = ["lb1", "lb2"];
const PRIORITIES: [u8; 2] = [110, 100];

impl Cluster {
    /// Starts the cluster and waits until lb1 alone holds the VIP and it answers; `None`
    /// when the test is skipped (see `common::lab`).
    pub fn start(test: &str, prefix: &str, vrrp: Vrrp) -> Option<Cluster> {
        // A test that failed (and panicked) holding it poisons it; the others still run.
        let alone = ONE_CLUSTER_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lab = crate::common::lab(test, prefix, &["lb1", "lb2", "be1", "be2", "client"])?;
        let dirs = [0, 1, 2, 3].map(|_| {
            tempfile::Builder::new()
                .prefix("cluster-proxy")
                .tempdir()
                .expect("temp dir")
        });
        let backends = [0, 1].map(|i| {
            let b = ["be1", "be2"][i];
            Some(Proxy::start(
                lab.node(b).ns(),
                &backend_cfg(b),
                dirs[2 + i].path(),
            ))
        });
        let cfg = lb_cfg(&lab);
        let proxies =
            [0, 1].map(|i| Some(Proxy::start(lab.node(LBS[i]).ns(), &cfg, dirs[i].path())));
        let mut c = Cluster {
            dirs,
            vrrpd: [None, None],
            proxies,
            backends,
            vrrp,
            lab,
            _alone: alone,
        };
        // lb1 first, lb2 once lb1 is Master: started together, the first Master_Down timer
        // to fire wins, and with `nopreempt` a 20 ms slower start of lb1's vrrpd on a busy
        // machine leaves lb2 the Master for good (RFC 5798 §6.4.2 lets any Backup take over).
        c.start_vrrpd(0);
        c.await_owner("lb1", Duration::from_secs(5))
            .unwrap_or_else(|| panic!("lb1 becomes master\n{}", c.logs()));
        c.start_vrrpd(1);
        c.await_vrrpd_state(1, "BACKUP", Duration::from_secs(5))
            .unwrap_or_else(|| panic!("lb2 settles as backup\n{}", c.logs()));
        c.await_owner("lb1", Duration::from_secs(5))
            .unwrap_or_else(|| panic!("lb1 stays the only master\n{}", c.logs()));
        let client = Load::start(&c.lab, 1, Duration::from_millis(20));
        let ok = within(Duration::from_secs(5), || client.report_so_far().ok > 0);
        let r = client.stop();
        assert!(ok.is_some(), "the VIP answers: {r:?}\n{}", c.logs());
        Some(c)
    }

    /// Starts (again) vrrpd on LB node `i` (0 or 1).
    pub fn start_vrrpd(&mut self, i: usize) {
        let conf = self
            .vrrp
            .conf(PRIORITIES[i], &self.dirs[i].path().join("haproxy.cfg"));
        // Process events come in the test's own namespace (the kernel sends them in the
        // initial one only).
        let netns = format!("/proc/{}/ns/net", std::process::id());
        let ns = self.lab.node(LBS[i]).ns();
        let v = Vrrpd::start_with(ns, &conf, &["--proc-events-netns", &netns])
            .unwrap_or_else(|e| panic!("vrrpd on {}: {e}", LBS[i]));
        self.vrrpd[i] = Some(v);
    }

    /// Starts (again) lbproxy on LB node `i`.
    pub fn start_proxy(&mut self, i: usize) {
        let cfg = lb_cfg(&self.lab);
        let ns = self.lab.node(LBS[i]).ns();
        self.proxies[i] = Some(Proxy::start(ns, &cfg, self.dirs[i].path()));
    }

    pub fn vrrpd(&mut self, i: usize) -> &mut Vrrpd {
        self.vrrpd[i].as_mut().expect("vrrpd running")
    }

    pub fn proxy(&mut self, i: usize) -> &mut Proxy {
        self.proxies[i].as_mut().expect("lbproxy running")
    }

    pub fn backend(&mut self, i: usize) -> &mut Proxy {
        self.backends[i].as_mut().expect("backend running")
    }

    /// Which LB nodes hold the VIP.
    pub fn owners(&self) -> Vec<&'static str> {
        LBS.into_iter()
            .filter(|n| has_vip(self.lab.node(n).ns(), vip()))
            .collect()
    }

    /// Waits until `owner` alone holds the VIP; how long it took.
    pub fn await_owner(&self, owner: &str, limit: Duration) -> Option<Duration> {
        within(limit, || self.owners() == [owner])
    }

    /// Waits until VI_1 on LB node `i` reports `state` (MASTER, BACKUP, FAULT).
    pub fn await_vrrpd_state(&self, i: usize, state: &str, limit: Duration) -> Option<Duration> {
        let v = self.vrrpd[i].as_ref().expect("vrrpd running");
        within(limit, || v.state("VI_1").as_deref() == Some(state))
    }

    /// Every daemon's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for (i, n) in LBS.iter().enumerate() {
            if let Some(v) = &self.vrrpd[i] {
                s += &format!("--- {n} vrrpd:\n{}\n", v.log());
            }
            if let Some(p) = &self.proxies[i] {
                // Every request is logged: the answered ones are left out.
                let log = p.proc.log();
                let unusual: Vec<&str> = log
                    .lines()
                    .filter(|l| !(l.contains(" 200 ") && l.contains(" ---- ")))
                    .collect();
                s += &format!(
                    "--- {n} lbproxy (all but answered requests):\n{}\n",
                    unusual.join("\n")
                );
            }
        }
        s
    }
}

/// One request's outcome, as the client saw it.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// A 200 from a backend.
    Answered,
    /// No connection within the connect timeout, or refused: nothing was sent, and a
    /// client tries again (the outage shows in the gaps between answers).
    NotConnected,
    /// The request went out and no valid answer came back: a lost request.
    Lost,
}

/// One request: when it ended (since the load started), how, and who answered.
type Entry = (Duration, Outcome, Option<String>);

/// What the client threads saw.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub ok: u64,
    /// Requests sent and not answered (reset, closed, timed out, not a 200).
    pub lost: u64,
    /// Attempts that could not connect.
    pub not_connected: u64,
    /// The longest time between two answers: the outage the client saw.
    pub outage: Duration,
    /// When that outage began, from the start of the load.
    pub outage_at: Duration,
    /// The answering backend's name in each answer (be1, be2), counted.
    pub by_backend: Vec<(String, u64)>,
}

/// Client threads in the `client` namespace, each sending `GET /` to VIP:80 on a new
/// connection, one after the other with a pause, until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    log: Arc<Mutex<Vec<Entry>>>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_millis(50);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

impl Load {
    pub fn start(lab: &Lab, threads: usize, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let target = SocketAddr::new(vip(), PORT);
        let threads = (0..threads)
            .map(|_| {
                let (stop, log) = (stop.clone(), log.clone());
                let netns = format!("/run/netns/{}", lab.node("client").ns());
                std::thread::spawn(move || {
                    let file = std::fs::File::open(netns).expect("client namespace");
                    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                        .expect("setns into the client namespace");
                    // Bounded: the test stops it, and a thread never outlives 120 s.
                    while !stop.load(Ordering::Relaxed) && t0.elapsed() < Duration::from_secs(120) {
                        let (outcome, who) = request(target);
                        let at = t0.elapsed();
                        log.lock().expect("log").push((at, outcome, who));
                        std::thread::sleep(pause);
                    }
                })
            })
            .collect();
        Load { stop, threads, log }
    }

    pub fn report_so_far(&self) -> Report {
        report(&self.log.lock().expect("log"))
    }

    /// Stops the threads and reports.
    pub fn stop(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        let log = self.log.lock().expect("log");
        report(&log)
    }
}

fn report(log: &[Entry]) -> Report {
    let mut r = Report::default();
    let mut last_ok: Option<Duration> = None;
    let mut sorted: Vec<_> = log.to_vec();
    sorted.sort_by_key(|e| e.0);
    for (at, outcome, who) in sorted {
        match outcome {
            Outcome::Answered => {
                r.ok += 1;
                if let Some(prev) = last_ok {
                    if at - prev > r.outage {
                        r.outage = at - prev;
                        r.outage_at = prev;
                    }
                }
                last_ok = Some(at);
                let who = who.unwrap_or_default();
                match r.by_backend.iter_mut().find(|(n, _)| *n == who) {
                    Some((_, c)) => *c += 1,
                    None => r.by_backend.push((who, 1)),
                }
            }
            Outcome::NotConnected => r.not_connected += 1,
            Outcome::Lost => r.lost += 1,
        }
    }
    r
}

/// One request on a new connection.
fn request(target: SocketAddr) -> (Outcome, Option<String>) {
    let Ok(mut s) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else {
        return (Outcome::NotConnected, None);
    };
    let _ = s.set_read_timeout(Some(ANSWER_TIMEOUT));
    let _ = s.set_nodelay(true);
    if s.write_all(b"GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return (Outcome::Lost, None);
    }
    // Read until the response is complete by its Content-Length, as an HTTP client does: an
    // error after that (a reset for the closing ACK, sent to a node that took the VIP
    // meanwhile) does not undo an answer already received.
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(answer) = complete_200(&buf) {
            return (Outcome::Answered, Some(answer));
        }
        match s.read(&mut chunk) {
            Ok(n) if n > 0 && buf.len() < 64 * 1024 => buf.extend_from_slice(&chunk[..n]),
            _ => return (Outcome::Lost, None),
        }
    }
}

/// The body of a complete `200` response in `buf`, if it is one.
fn complete_200(buf: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(buf).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return None;
    }
    let len: usize = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())
            .flatten()
    })?;
    (body.len() >= len).then(|| body[..len].trim().to_owned())
}
