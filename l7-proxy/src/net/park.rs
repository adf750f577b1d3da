//! Parking idle connections. A keep-alive connection that has waited a while for its next
//! request leaves its task and tokio's reactor and waits in one epoll set shared by all
//! parked connections, costing its socket and a few dozen bytes instead of a task, a
//! reactor registration and its state (issue 16: RSS per idle connection). When bytes or a
//! FIN arrive, its `Resume` gets it back as a tokio socket (and starts a task for it);
//! when its deadline passes, or on soft stop, it is dropped, which closes it.
//!
//! The parker knows nothing of HTTP: what a connection needs to go on lives in its
//! `Resume` closure.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What brings a parked connection back: called with the socket, registered with tokio
/// again, in the parker's task (it should spawn, not run, the connection's work).
pub type Resume = Box<dyn FnOnce(TcpStream) + Send>;

/// A parked connection.
struct Slot {
    stream: std::net::TcpStream,
    due: Option<Instant>,
    resume: Resume,
}

/// The parked connections: a slab (keys reused through `free`), each slot tagged with a
/// generation so that a stale event or deadline never touches a later occupant.
#[derive(Default)]
struct Slots {
    slots: Vec<(u32, Option<Slot>)>,
    free: Vec<u32>,
    /// Deadlines, earliest first; stale entries are skipped when popped.
    due: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    parked: usize,
}

impl Slots {
    fn insert(&mut self, slot: Slot) -> (u32, u32) {
        let key = match self.free.pop() {
            Some(k) => k,
            None => {
                self.slots.push((0, None));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let entry = &mut self.slots[key as usize];
        entry.0 = entry.0.wrapping_add(1);
        if let Some(d) = slot.due {
            self.due.push(Reverse((d, key, entry.0)));
        }
        entry.1 = Some(slot);
        self.parked += 1;
        (key, entry.0)
    }

    fn take(&mut self, key: u32, generation: u32) -> Option<Slot> {
        let entry = self.slots.get_mut(key as usize)?;
        if entry.0 != generation {
            return None;
        }
        let slot = entry.1.take()?;
        self.free.push(key);
        self.parked -= 1;
        Some(slot)
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.peek().map(|Reverse((d, _, _))| *d)
    }
}

/// Why a connection could not be parked (it is handed back).
#[derive(Debug)]
pub struct NotParked(pub TcpStream);

/// The shared waiting room of idle connections. Cheap to clone.
#[derive(Clone)]
pub struct Parker {
    inner: Arc<Inner>,
}

struct Inner {
    epoll: AsyncFd<EpollSet>,
    slots: Mutex<Slots>,
    /// Wakes the driver when a deadline earlier than all others arrives.
    earlier: Notify,
    /// Soft stop: parked connections close, and no more are taken.
    stopping: watch::Receiver<bool>,
    /// Whether the driving task runs (it is started by the first connection parked, in
    /// the runtime that connection runs in).
    driving: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Parker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parker")
            .field("parked", &self.parked())
            .finish()
    }
}

/// epoll's data word: a slot's key and generation.
fn token(key: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(key)
}

impl Parker {
    /// A parker that closes what it holds once `stopping` is true. Must be called inside a
    /// tokio runtime (the parker's epoll set is registered with its reactor).
    pub fn new(stopping: watch::Receiver<bool>) -> std::io::Result<Parker> {
        let epoll = register(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?)?;
        Ok(Parker {
            inner: Arc::new(Inner {
                epoll,
                slots: Mutex::new(Slots::default()),
                earlier: Notify::new(),
                stopping,
                driving: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Connections parked now.
    pub fn parked(&self) -> usize {
        self.inner.lock().parked
    }

    /// Parks `stream` until it is readable (then `resume` gets it back) or until `due`
    /// (then it is closed). Must be called inside a tokio runtime.
    pub fn park(
        &self,
        stream: TcpStream,
        due: Option<Instant>,
        resume: Resume,
    ) -> Result<(), NotParked> {
        if *self.inner.stopping.borrow() {
            return Err(NotParked(stream));
        }
        self.start_driver();
        // Out of tokio's reactor first: one socket is in one epoll set at a time.
        let std = match stream.into_std() {
            Ok(s) => s,
            Err(_) => return Ok(()), // the socket is gone: nothing left to wait for
        };
        let mut slots = self.inner.lock();
        let earliest = slots.next_due();
        let (key, generation) = slots.insert(Slot {
            stream: std,
            due,
            resume,
        });
        let slot = slots.slots[key as usize].1.as_ref().map(|s| &s.stream);
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP;
        let event = EpollEvent::new(flags, token(key, generation));
        let added = slot.map(|s| self.inner.epoll.get_ref().0.add(s, event));
        if !matches!(added, Some(Ok(()))) {
            // Cannot watch it: hand it back to the caller as it was.
            let slot = slots.take(key, generation);
            drop(slots);
            return match slot.map(|s| TcpStream::from_std(s.stream)) {
                Some(Ok(s)) => Err(NotParked(s)),
                _ => Ok(()),
            };
        }
        drop(slots);
        if due.is_some_and(|d| earliest.is_none_or(|e| d < e)) {
            self.inner.earlier.notify_one();
        }
        Ok(())
    }

    fn start_driver(&self) {
        use std::sync::atomic::Ordering;
        if !self.inner.driving.swap(true, Ordering::AcqRel) {
            let inner = self.inner.clone();
            tokio::spawn(async move {
                if let Err(e) = inner.drive().await {
                    tracing::error!(error = %e, "idle connection parker failed; parked connections closed");
                }
                inner.close_all();
            });
        }
    }
}

/// The epoll set, as tokio's reactor sees it (readable when a parked socket is).
struct EpollSet(Epoll);

impl AsRawFd for EpollSet {
    fn as_raw_fd(&self) -> RawFd {
        self.0 .0.as_raw_fd()
    }
}

/// Registers the epoll set with tokio's reactor.
#[allow(unsafe_code)] // AsyncFd::register: tokio cannot check that the fd stays the same.
fn register(epoll: Epoll) -> std::io::Result<AsyncFd<EpollSet>> {
    // SAFETY: `EpollSet` owns the epoll descriptor (nix's `Epoll` holds an `OwnedFd`) and
    // never replaces it, and the AsyncFd owns the `EpollSet`: the fd stays open and the same
    // while it is registered.
    unsafe { AsyncFd::register_with_interest(EpollSet(epoll), tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Slots> {
        // A panic while holding the lock leaves the slab consistent (each step is whole).
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resumes connections that became readable and closes those past their deadline,
    /// until soft stop.
    async fn drive(&self) -> std::io::Result<()> {
        let mut stopping = self.stopping.clone();
        let mut events = vec![EpollEvent::empty(); 256];
        loop {
            let next_due = self.lock().next_due();
            let expiry = async {
                match next_due {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = self.epoll.readable() => {
                    let mut ready = r?;
                    loop {
                        let n = self.epoll.get_ref().0.wait(&mut events, EpollTimeout::ZERO)?;
                        for e in &events[..n] {
                            self.wake(e.data());
                        }
                        if n < events.len() {
                            break;
                        }
                    }
                    ready.clear_ready();
                }
                () = expiry => self.expire(Instant::now()),
                () = self.earlier.notified() => {}
                r = stopping.wait_for(|s| *s) => {
                    let _ = r;
                    return Ok(());
                }
            }
        }
    }

    /// A parked connection became readable: out of the epoll set, back into tokio's.
    fn wake(&self, token: u64) {
        let (key, generation) = (token as u32, (token >> 32) as u32);
        let Some(slot) = self.lock().take(key, generation) else {
            return;
        };
        let _ = self.epoll.get_ref().0.delete(&slot.stream);
        if let Ok(tcp) = TcpStream::from_std(slot.stream) {
            (slot.resume)(tcp);
        }
    }

    /// Closes the connections whose deadline is past.
    fn expire(&self, now: Instant) {
        let mut closed = Vec::new();
        {
            let mut slots = self.lock();
            while let Some(&Reverse((d, key, generation))) = slots.due.peek() {
                if d > now {
                    break;
                }
                slots.due.pop();
                if let Some(s) = slots.take(key, generation) {
                    closed.push(s);
                }
            }
        }
        // Dropped outside the lock: closing sockets and releasing what the connections
        // held (counts, slots) runs code of its own.
        drop(closed);
    }

    fn close_all(&self) {
        let all = std::mem::take(&mut *self.lock());
        drop(all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let a = TcpStream::connect(l.local_addr().expect("addr"));
        let (a, b) = tokio::join!(a, l.accept());
        (a.expect("connect"), b.expect("accept").0)
    }

    /// A `Resume` that sends the socket back to the test.
    fn back() -> (Resume, oneshot::Receiver<TcpStream>) {
        let (tx, rx) = oneshot::channel();
        (
            Box::new(move |s| {
                let _ = tx.send(s);
            }),
            rx,
        )
    }

    #[tokio::test]
    async fn a_parked_connection_comes_back_when_its_peer_writes() {
        let (_stop_tx, stop) = watch::channel(false);
        let parker = Parker::new(stop).expect("parker");
        let (mut client, server) = pair().await;
        let (resume, rx) = back();
        parker.park(server, None, resume).expect("parked");
        assert_eq!(parker.parked(), 1);
        client.write_all(b"GET").await.expect("write");
        let mut server = tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .expect("resumed in time")
            .expect("resumed");
        let mut b = [0u8; 3];
        server
            .read_exact(&mut b)
            .await
            .expect("read on the resumed socket");
        assert_eq!(&b, b"GET");
        assert_eq!(parker.parked(), 0);
    }

    #[tokio::test]
    async fn a_parked_connection_past_its_deadline_is_closed() {
        let (_stop_tx, stop) = watch::channel(false);
        let parker = Parker::new(stop).expect("parker");
        let (mut client, server) = pair().await;
        let (resume, mut rx) = back();
        let due = Instant::now() + Duration::from_millis(100);
        parker.park(server, Some(due), resume).expect("parked");
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut b))
            .await
            .expect("closed in time")
            .expect("read");
        assert_eq!(n, 0, "the proxy side closed");
        assert!(Instant::now() >= due);
        assert_eq!(parker.parked(), 0);
        assert!(rx.try_recv().is_err(), "never resumed");
    }

    #[tokio::test]
    async fn soft_stop_closes_parked_connections_and_refuses_new_ones() {
        let (stop_tx, stop) = watch::channel(false);
        let parker = Parker::new(stop).expect("parker");
        let (mut client, server) = pair().await;
        let (resume, _rx) = back();
        parker.park(server, None, resume).expect("parked");
        stop_tx.send(true).expect("stop");
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut b))
            .await
            .expect("closed in time")
            .expect("read");
        assert_eq!(n, 0);
        let (_c2, s2) = pair().await;
        let (resume, _rx) = back();
        assert!(parker.park(s2, None, resume).is_err());
    }

    #[tokio::test]
    async fn a_stale_event_does_not_touch_a_later_occupant_of_the_slot() {
        let mut slots = Slots::default();
        let (_a, s1) = pair().await;
        let (_b, s2) = pair().await;
        let slot = |s: TcpStream| Slot {
            stream: s.into_std().expect("std"),
            due: None,
            resume: Box::new(|_| {}),
        };
        let (k1, g1) = slots.insert(slot(s1));
        assert!(slots.take(k1, g1).is_some());
        let (k2, g2) = slots.insert(slot(s2));
        assert_eq!(k1, k2, "the key is reused");
        assert!(
            slots.take(k1, g1).is_none(),
            "the old generation finds nothing"
        );
        assert!(slots.take(k2, g2).is_some());
    }
}
