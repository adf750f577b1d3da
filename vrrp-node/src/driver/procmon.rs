//! `vrrp_track_process`'s OS half, as keepalived does it: the kernel's process events
//! connector (NETLINK_CONNECTOR, subscribed with PROC_CN_MCAST_LISTEN) tells of every fork,
//! exec, rename and exit, so an exit is seen as it happens and nothing polls; `/proc` is
//! scanned once per configuration (start, reload) and again only if the kernel dropped
//! events. A task owns the socket and the [`ProcessTable`] and reports quorum changes.
//!
//! keepalived has no fallback when the connector cannot be had (no CONFIG_PROC_EVENTS, no
//! CAP_NET_ADMIN): nor has this; [`ProcessMonitor::start`] fails with the reason and the
//! configuration is refused. The connector exists in the initial network namespace only;
//! a daemon started in another (`ip netns exec`) subscribes from there, through
//! [`INITIAL_NETNS`] or the namespace file it is given (setns on a helper thread; the
//! socket stays in that namespace, the daemon does not move).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_CONNECTOR, Socket, SocketAddr};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::VrrpTrackProcess;
use crate::fsm;
use crate::net::sys::{register, OwnsFd};
use crate::track::cn_proc::{self, McastOp, ProcEvent, CN_IDX_PROC};
use crate::track::process::{ProcessTable, QuorumState};

use super::procfs;

/// Receive buffer asked for: room for bursts of forks and exits (keepalived's default is the
/// system's; a full buffer costs a rescan).
const RCVBUF: usize = 1 << 20;
/// How long the kernel has to answer the subscription.
const ACK_WAIT: Duration = Duration::from_secs(1);
/// The network namespace the connector lives in, as seen through pid 1.
pub const INITIAL_NETNS: &str = "/proc/1/ns/net";

/// Why process events cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The kernel was built without the connector.
    #[error("no process events connector in this kernel (CONFIG_PROC_EVENTS): {0}")]
    Unsupported(io::Error),
    /// The kernel refused the subscription: it takes CAP_NET_ADMIN (before Linux 6.6), and
    /// the initial user and pid namespaces.
    #[error(
        "subscribing to process events was refused (it takes CAP_NET_ADMIN, in the initial \
         user and pid namespaces): {0}"
    )]
    Permission(io::Error),
    /// Not in the initial network namespace, and it could not be reached.
    #[error(
        "process events are sent in the initial network namespace only ({here}), and \
         subscribing from {} failed: {initial}", netns.display()
    )]
    Namespace {
        /// What subscribing here said.
        here: io::Error,
        /// The namespace tried.
        netns: PathBuf,
        /// What subscribing from it said.
        initial: io::Error,
    },
    /// Anything else.
    #[error("process events connector: {0}")]
    Io(io::Error),
}

impl ConnectorError {
    fn from_io(e: io::Error) -> ConnectorError {
        match e.raw_os_error() {
            Some(libc::EPROTONOSUPPORT) => ConnectorError::Unsupported(e),
            Some(libc::EPERM | libc::EACCES) => ConnectorError::Permission(e),
            _ => ConnectorError::Io(e),
        }
    }
}

/// A configuration for the task, answered with every tracker's state after the scan.
struct Configure {
    trackers: Vec<VrrpTrackProcess>,
    reply: oneshot::Sender<Vec<QuorumState>>,
}

/// The running monitor; dropping it stops the task and unsubscribes.
#[derive(Debug)]
pub struct ProcessMonitor {
    control: mpsc::Sender<Configure>,
    task: JoinHandle<()>,
}

impl ProcessMonitor {
    /// Subscribes to process events (from `netns` if this network namespace has no
    /// connector) and starts the task, which sends each quorum change on `reports`. Tracks
    /// nothing until [`ProcessMonitor::configure`].
    pub fn start(
        reports: mpsc::Sender<QuorumState>,
        netns: &Path,
    ) -> Result<ProcessMonitor, ConnectorError> {
        let socket = subscribe_anywhere(netns)?;
        let socket = register(socket, Interest::READABLE).map_err(ConnectorError::Io)?;
        let (control, control_rx) = mpsc::channel(4);
        let task = tokio::spawn(run(socket, control_rx, reports));
        Ok(ProcessMonitor { control, task })
    }

    /// Tracks `trackers` from now on: `/proc` is scanned again, and every tracker's state
    /// found returned (`None` if the task is gone).
    pub async fn configure(&self, trackers: Vec<VrrpTrackProcess>) -> Option<Vec<QuorumState>> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Configure { trackers, reply })
            .await
            .ok()?;
        answer.await.ok()
    }
}

impl Drop for ProcessMonitor {
    fn drop(&mut self) {
        // The socket (and its unsubscription) goes with the task.
        self.task.abort();
    }
}

/// The subscribed socket; sends PROC_CN_MCAST_IGNORE when dropped, since the kernel counts
/// listeners by subscriptions, not by open sockets.
#[derive(Debug)]
struct Subscribed {
    socket: Socket,
    port: u32,
}

impl AsRawFd for Subscribed {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        let _ = self
            .socket
            .send(&cn_proc::mcast_message(McastOp::Ignore, self.port), 0);
    }
}

/// Subscribes in this network namespace, else from `netns`.
fn subscribe_anywhere(netns: &Path) -> Result<Subscribed, ConnectorError> {
    let here = match subscribe() {
        Ok(s) => return Ok(s),
        // No connector in this namespace: the kernel refuses the message.
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => e,
        Err(e) => return Err(ConnectorError::from_io(e)),
    };
    match subscribe_from(netns) {
        Ok(s) => {
            info!(netns = %netns.display(),
                  "process events: this network namespace has no connector ({here}); subscribed from the initial one");
            Ok(s)
        }
        Err(initial) => Err(ConnectorError::Namespace {
            here,
            netns: netns.to_path_buf(),
            initial,
        }),
    }
}

/// Opens a connector socket in the calling thread's network namespace and subscribes,
/// waiting for the kernel's answer.
fn subscribe() -> io::Result<Subscribed> {
    let mut socket = Socket::new(NETLINK_CONNECTOR)?;
    socket.bind(&SocketAddr::new(0, CN_IDX_PROC))?;
    let mut addr = SocketAddr::new(0, 0);
    socket.get_address(&mut addr)?;
    // Best effort: a smaller buffer only makes a rescan likelier.
    if let Err(e) = socket.set_rx_buf_sz(RCVBUF) {
        debug!("process events: SO_RCVBUF: {e}");
    }
    let timeout = TimeVal::new(ACK_WAIT.as_secs() as _, 0);
    setsockopt(&socket, sockopt::ReceiveTimeout, &timeout).map_err(io::Error::from)?;
    let sub = Subscribed {
        port: addr.port_number(),
        socket,
    };
    sub.socket
        .send(&cn_proc::mcast_message(McastOp::Listen, sub.port), 0)?;
    wait_for_ack(&sub.socket)?;
    sub.socket.set_non_blocking(true)?;
    Ok(sub)
}

/// Reads until the kernel's answer to the subscription (events may come first).
fn wait_for_ack(socket: &Socket) -> io::Result<()> {
    let deadline = std::time::Instant::now() + ACK_WAIT;
    let mut buf = vec![0u8; 8192];
    while std::time::Instant::now() < deadline {
        let n = match socket.recv(&mut &mut buf[..], 0) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        };
        let ack = cn_proc::events(buf.get(..n).unwrap_or_default()).find_map(|e| match e {
            Ok(ProcEvent::Ack { err }) => Some(err),
            _ => None,
        });
        match ack {
            Some(0) => return Ok(()),
            Some(err) => return Err(io::Error::from_raw_os_error(err as i32)),
            None => {}
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the kernel did not answer the subscription",
    ))
}

/// [`subscribe`] from a thread that has joined network namespace `netns`. Only that thread
/// moves, and only for the call.
fn subscribe_from(netns: &Path) -> io::Result<Subscribed> {
    let ns = std::fs::File::open(netns)?;
    std::thread::scope(|s| {
        s.spawn(move || {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(io::Error::from)?;
            subscribe()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("subscribing thread panicked")))
    })
}

// SAFETY: `Subscribed` owns its socket (netlink-sys closes it on drop) and never replaces
// it.
#[allow(unsafe_code)]
unsafe impl OwnsFd for Subscribed {}

/// The task: configurations, events and delays into the table, changes out to `reports`.
async fn run(
    socket: AsyncFd<Subscribed>,
    mut control: mpsc::Receiver<Configure>,
    reports: mpsc::Sender<QuorumState>,
) {
    let mut m = Monitor {
        start: std::time::Instant::now(),
        table: ProcessTable::default(),
        buf: vec![0u8; 64 * 1024],
        malformed: 0,
    };
    loop {
        let deadline = m.table.next_deadline().map(|d| m.to_std(d));
        tokio::select! {
            cmd = control.recv() => {
                let Some(cmd) = cmd else { return };
                m.table = ProcessTable::new(&cmd.trackers);
                procfs::scan(&mut m.table);
                let _ = cmd.reply.send(m.table.states());
            }
            ready = socket.readable() => {
                // Err(_) from try_io: all read, readiness cleared (WouldBlock).
                let failed = match ready {
                    Ok(mut guard) => match guard.try_io(|s| m.drain(s.get_ref())) {
                        Ok(Err(e)) => Some(e),
                        _ => None,
                    },
                    Err(e) => Some(e),
                };
                if let Some(e) = failed {
                    warn!("process events: reading: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            () = sleep_until(deadline) => {
                let now = m.now();
                m.table.handle_timeout(now);
            }
        }
        while let Some(change) = m.table.poll_change() {
            if reports.send(change).await.is_err() {
                return;
            }
        }
    }
}

async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The task's state.
struct Monitor {
    start: std::time::Instant,
    table: ProcessTable,
    buf: Vec<u8>,
    /// Messages dropped as malformed.
    malformed: u64,
}

impl Monitor {
    fn now(&self) -> fsm::Instant {
        let us = self.start.elapsed().as_micros();
        fsm::Instant::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    fn to_std(&self, at: fsm::Instant) -> std::time::Instant {
        self.start + Duration::from_micros(at.as_micros())
    }

    /// Reads every datagram there is; `WouldBlock` when done (tokio then waits for more).
    fn drain(&mut self, sub: &Subscribed) -> io::Result<()> {
        loop {
            let (n, from) = match sub.socket.recv_from(&mut &mut self.buf[..], 0) {
                Ok(got) => got,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // The kernel dropped events: what is running is no longer known.
                    warn!("process events: receive buffer overrun, events lost; rescanning /proc");
                    self.rescan();
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Only the kernel (port 0) speaks for the connector.
            if from.port_number() != 0 {
                continue;
            }
            let now = self.now();
            let datagram = std::mem::take(&mut self.buf);
            for event in cn_proc::events(datagram.get(..n).unwrap_or_default()) {
                match event {
                    Ok(ev) => self.apply(now, ev),
                    Err(e) => self.count_malformed(&e),
                }
            }
            self.buf = datagram;
        }
    }

    /// One event into the table. Threads are not processes: only events whose pid is its
    /// process's (tgid) count, as in keepalived.
    fn apply(&mut self, now: fsm::Instant, ev: ProcEvent) {
        if self.table.is_empty() {
            return;
        }
        match ev {
            ProcEvent::Fork {
                parent_tgid,
                child_pid,
                child_tgid,
            } if child_pid == child_tgid => self.table.fork(now, parent_tgid, child_tgid),
            ProcEvent::Exec { pid, tgid } if pid == tgid => {
                let info =
                    procfs::at_exec(pid, self.table.wants_comm(), self.table.wants_cmdline());
                self.table.exec(now, pid, &info.identity());
            }
            ProcEvent::Comm { pid, tgid, comm } if pid == tgid => {
                let len = comm.iter().position(|b| *b == 0).unwrap_or(comm.len());
                self.table
                    .comm(now, pid, comm.get(..len).unwrap_or_default());
            }
            ProcEvent::Exit { pid, tgid } if pid == tgid => self.table.exit(now, pid),
            _ => {}
        }
    }

    /// Counts again from `/proc`, reporting the trackers whose state changed.
    fn rescan(&mut self) {
        procfs::rescan(&mut self.table);
    }

    fn count_malformed(&mut self, e: &cn_proc::WireError) {
        self.malformed += 1;
        metrics::counter!(super::metrics::PROC_EVENTS_MALFORMED).increment(1);
        if self.malformed == 1 {
            warn!(
                "process events: malformed message dropped ({e}); further ones are counted in {}",
                super::metrics::PROC_EVENTS_MALFORMED
            );
        } else {
            debug!(
                count = self.malformed,
                "process events: malformed message dropped ({e})"
            );
        }
    }
}
