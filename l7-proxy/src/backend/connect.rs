//! Getting a connection to a server, written once for HTTP and TCP mode: pick a server,
//! wait in its queue, reuse an idle connection or connect (and handshake TLS), and retry
//! failed connects as `retries` and `option redispatch` say.

use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{Backend, PickError, Server, ServerSlot};
use crate::io::within;
use crate::net::Stream;
use crate::stats::counters::now_ms;

/// A connection to a server, holding its slot.
#[derive(Debug)]
pub struct Upstream {
    /// The server's slot (counted in its `active`, holding its `maxconn` permit).
    pub slot: ServerSlot,
    /// The connection.
    pub stream: Stream,
    /// Taken from the idle pool rather than opened now.
    pub reused: bool,
    /// The SNI it was opened with, for its return to the pool.
    pub sni: Option<String>,
}

/// Why no connection could be had.
#[derive(Debug)]
pub enum ConnectError {
    /// No server is up.
    NoServer,
    /// The chosen server's queue is full.
    QueueFull,
    /// `timeout queue` expired.
    QueueTimeout,
    /// The last connect was refused or failed (TLS handshake included).
    Failed(std::io::Error),
    /// The last connect did not finish within `timeout connect`.
    Timeout,
}

impl ConnectError {
    /// HAProxy's termination state for it.
    pub fn term(&self) -> [u8; 2] {
        match self {
            ConnectError::NoServer | ConnectError::Failed(_) => *b"SC",
            ConnectError::QueueFull => *b"SQ",
            ConnectError::QueueTimeout => *b"sQ",
            ConnectError::Timeout => *b"sC",
        }
    }
}

/// Names a TLS connection to a server may send as SNI (`sni req.hdr(host)`,
/// `sni ssl_fc_sni`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SniSource<'a> {
    /// The request's Host (read as text only for a server with `ssl`).
    pub host: Option<&'a [u8]>,
    /// The SNI the client sent.
    pub client_sni: Option<&'a str>,
}

/// One request's (or TCP session's) way to a server, across its retries.
#[derive(Debug)]
pub struct Attempt<'a> {
    backend: &'a Backend,
    client: IpAddr,
    exclude: Vec<usize>,
    retries_left: u32,
    /// Retries done (`%rc`).
    pub retries: usize,
    /// The last server tried, for the log.
    pub last_server: Option<Arc<Server>>,
    /// Time in the queue of the last try (`%Tw`).
    pub t_queue: Option<Duration>,
    /// Time to connect of the last try (`%Tc`).
    pub t_connect: Option<Duration>,
}

impl<'a> Attempt<'a> {
    /// The way of one request or session from `client` to a server of `backend`.
    pub fn new(backend: &'a Backend, client: IpAddr) -> Attempt<'a> {
        Attempt {
            backend,
            client,
            exclude: Vec::new(),
            retries_left: backend.settings.retries,
            retries: 0,
            last_server: None,
            t_queue: None,
            t_connect: None,
        }
    }

    /// Counts a retry of the request on `slot`'s server; false when none is left. With
    /// `option redispatch` the next try avoids that server.
    pub fn retry(&mut self, slot: &ServerSlot) -> bool {
        if self.retries_left == 0 {
            return false;
        }
        self.retries_left -= 1;
        self.retries += 1;
        let (b, s) = (&self.backend.counters, &slot.server.counters);
        b.retries.fetch_add(1, Relaxed);
        s.retries.fetch_add(1, Relaxed);
        if self.backend.settings.redispatch && self.backend.servers.len() > 1 {
            self.exclude.push(slot.index);
            b.redispatches.fetch_add(1, Relaxed);
            s.redispatches.fetch_add(1, Relaxed);
        }
        true
    }

    /// A connection to a server: an idle one when `reuse`, else a new one, retrying
    /// failed connects.
    pub async fn connect(
        &mut self,
        reuse: bool,
        names: SniSource<'_>,
    ) -> Result<Upstream, ConnectError> {
        let t = &self.backend.settings.timeouts;
        let queue_to = t.queue.or(t.connect).unwrap_or(Duration::from_secs(5));
        loop {
            let Some(idx) = self.backend.pick(self.client, &self.exclude) else {
                return Err(ConnectError::NoServer);
            };
            let (slot, waited) =
                self.backend
                    .acquire(idx, queue_to)
                    .await
                    .map_err(|e| match e {
                        PickError::QueueTimeout => ConnectError::QueueTimeout,
                        PickError::QueueFull => ConnectError::QueueFull,
                        PickError::NoServer => ConnectError::NoServer,
                    })?;
            self.t_queue = Some(waited);
            self.last_server = Some(slot.server.clone());
            let sni = slot.server.tls.as_ref().map(|tls| {
                let host = names.host.and_then(|h| std::str::from_utf8(h).ok());
                tls.server_name(slot.server.addr.ip(), host, names.client_sni)
            });
            let sni_text = match &sni {
                Some(rustls::pki_types::ServerName::DnsName(d)) => Some(d.as_ref().to_string()),
                _ => None,
            };
            if reuse {
                if let Some(stream) = slot.server.take_idle(sni_text.as_deref()) {
                    self.t_connect = Some(Duration::ZERO);
                    self.backend.counters.reuses.fetch_add(1, Relaxed);
                    slot.server.counters.reuses.fetch_add(1, Relaxed);
                    return Ok(Upstream {
                        slot,
                        stream,
                        reused: true,
                        sni: sni_text,
                    });
                }
            }
            let tc = Instant::now();
            self.backend.counters.connects.fetch_add(1, Relaxed);
            slot.server.counters.connects.fetch_add(1, Relaxed);
            // Boxed: the TLS connect's state (a whole rustls client) would otherwise be
            // part of every request's future, copied into place at each stream's start,
            // while most requests take an idle connection.
            match within(t.connect, Box::pin(open(&slot.server, sni))).await {
                Some(Ok(stream)) => {
                    self.t_connect = Some(tc.elapsed());
                    return Ok(Upstream {
                        slot,
                        stream,
                        reused: false,
                        sni: sni_text,
                    });
                }
                failed => {
                    let s = &slot.server;
                    self.backend.counters.conn_errors.fetch_add(1, Relaxed);
                    s.counters.conn_errors.fetch_add(1, Relaxed);
                    let e = match failed {
                        Some(Err(e)) => ConnectError::Failed(e),
                        _ => ConnectError::Timeout,
                    };
                    let why = match &e {
                        ConnectError::Failed(io) => io.to_string(),
                        _ => "connect timeout".into(),
                    };
                    // A dead server refuses every connect until its check marks it down:
                    // one line per second, with the failures it stands for.
                    if let Some(unlogged) = s.connect_failures.admit(now_ms(), 1000) {
                        tracing::warn!(backend = %self.backend.name, unlogged, "connect to {}/{} ({}) failed: {why}", self.backend.name, s.name, s.addr);
                    }
                    if !self.retry(&slot) {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// Opens a connection to `s`: TCP, then TLS when the server has `ssl`.
async fn open(
    s: &Server,
    sni: Option<rustls::pki_types::ServerName<'static>>,
) -> std::io::Result<Stream> {
    let tcp = TcpStream::connect(s.addr).await?;
    let _ = tcp.set_nodelay(true);
    match (&s.tls, sni) {
        (Some(tls), Some(name)) => {
            let c = tokio_rustls::TlsConnector::from(tls.config.clone());
            Ok(Stream::TlsClient(Box::new(c.connect(name, tcp).await?)))
        }
        _ => Ok(Stream::Tcp(tcp)),
    }
}
