//! Parking idle connections. A keep-alive connection that has waited a while for its next
//! request leaves its task and tokio's reactor and waits in one epoll set shared by all
//! parked connections, costing its socket and a couple of hundred bytes instead of a task,
//! a reactor registration and its state (issue 16: RSS per idle connection). When bytes or
//! a FIN arrive, the parker's resume function gets it back as a tokio socket (and starts a
//! task for it); when its deadline passes, or on soft stop, it is dropped, which closes it.
//!
//! The parker knows nothing of HTTP: what a connection needs to go on is its `T`, held
//! inline in the parker's slab. Inline matters as much as small: the task, the reactor
//! registration and what else the connection allocated at accept are all freed when it
//! parks, so the pages they shared empty out and can go back to the system
//! ([`crate::mem::trim`], after a burst of parks), where one small allocation left behind
//! per connection would pin every page.

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
/// again, and the connection's state, in the parker's task (it should spawn, not run, the
/// connection's work).
pub type Resume<T> = fn(TcpStream, T);

/// A parked connection.
struct Slot<T> {
    stream: std::net::TcpStream,
    due: Option<Instant>,
    state: T,
}

/// The parked connections: a slab (keys reused through `free`), each slot tagged with a
/// generation so that a stale event or deadline never touches a later occupant.
struct Slots<T> {
    slots: Vec<(u32, Option<Slot<T>>)>,
    free: Vec<u32>,
    /// Deadlines, earliest first; stale entries are skipped when popped.
    due: BinaryHeap<Reverse<(Instant, u32, u32)>>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            slots: Vec::new(),
            free: Vec::new(),
            due: BinaryHeap::new(),
        }
    }
}

impl<T> Slots<T> {
    fn insert(&mut self, slot: Slot<T>) -> (u32, u32) {
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
        (key, entry.0)
    }

    fn take(&mut self, key: u32, generation: u32) -> Option<Slot<T>> {
        let entry = self.slots.get_mut(key as usize)?;
        if entry.0 != generation {
            return None;
        }
        let slot = entry.1.take()?;
        self.free.push(key);
        Some(slot)
    }

    /// Slots occupied: every slot is either occupied or on the free list.
    fn parked(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.peek().map(|Reverse((d, _, _))| *d)
    }
}

/// Why a connection could not be parked (it is handed back, with its state).
#[derive(Debug)]
pub struct NotParked<T>(pub TcpStream, pub T);

/// The shared waiting room of idle connections. Cheap to clone.
pub struct Parker<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Parker<T> {
    fn clone(&self) -> Self {
        Parker {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<T> {
    epoll: AsyncFd<EpollSet>,
    slots: Mutex<Slots<T>>,
    resume: Resume<T>,
    /// Connections parked since the memory was last trimmed.
    since_trim: std::sync::atomic::AtomicUsize,
    /// Wakes the driver when a deadline earlier than all others arrives.
    earlier: Notify,
    /// Soft stop: parked connections close, and no more are taken.
    stopping: watch::Receiver<bool>,
    /// Whether the driving task runs (it is started by the first connection parked, in
    /// the runtime that connection runs in).
    driving: std::sync::atomic::AtomicBool,
}

impl<T: Send + 'static> std::fmt::Debug for Parker<T> {
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

impl<T: Send + 'static> Parker<T> {
    /// A parker that gives readable connections to `resume` and closes what it holds once
    /// `stopping` is true. Must be called inside a tokio runtime (the parker's epoll set is
    /// registered with its reactor).
    pub fn new(stopping: watch::Receiver<bool>, resume: Resume<T>) -> std::io::Result<Parker<T>> {
        let epoll = register(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?)?;
        Ok(Parker {
            inner: Arc::new(Inner {
                epoll,
                slots: Mutex::new(Slots::default()),
                resume,
                since_trim: std::sync::atomic::AtomicUsize::new(0),
                earlier: Notify::new(),
                stopping,
                driving: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Connections parked now.
    pub fn parked(&self) -> usize {
        self.inner.lock().parked()
    }

    /// Parks `stream` with its `state` until it is readable (then the resume function gets
    /// both back) or until `due` (then both are dropped). Must be called inside a tokio
    /// runtime.
    pub fn park(
        &self,
        stream: TcpStream,
        due: Option<Instant>,
        state: T,
    ) -> Result<(), NotParked<T>> {
        if *self.inner.stopping.borrow() {
            return Err(NotParked(stream, state));
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
            state,
        });
        let slot = slots.slots[key as usize].1.as_ref().map(|s| &s.stream);
        let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP;
        let event = EpollEvent::new(flags, token(key, generation));
        let added = slot.map(|s| self.inner.epoll.get_ref().0.add(s, event));
        if !matches!(added, Some(Ok(()))) {
            // Cannot watch it: hand it back to the caller as it was.
            let slot = slots.take(key, generation);
            drop(slots);
            let Some(slot) = slot else { return Ok(()) };
            return match TcpStream::from_std(slot.stream) {
                Ok(s) => Err(NotParked(s, slot.state)),
                Err(_) => Ok(()),
            };
        }
        drop(slots);
        self.inner
            .since_trim
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
                // Also when the runtime drops the task: the slab's states may hold what
                // owns the parker (a reference cycle only closing them breaks).
                let _closes = CloseAll(&inner);
                if let Err(e) = inner.drive().await {
                    tracing::error!(error = %e, "idle connection parker failed; parked connections closed");
                }
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

/// Closes every parked connection when dropped.
struct CloseAll<'a, T>(&'a Inner<T>);

impl<T> Drop for CloseAll<'_, T> {
    fn drop(&mut self) {
        self.0.close_all();
    }
}

/// How often at most the parker gives freed memory back, and after how many parks.
const TRIM_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);
const TRIM_AFTER_PARKS: usize = 64;

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, Slots<T>> {
        // A panic while holding the lock leaves the slab consistent (each step is whole).
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resumes connections that became readable and closes those past their deadline,
    /// until soft stop.
    async fn drive(&self) -> std::io::Result<()> {
        let mut stopping = self.stopping.clone();
        let mut events = vec![EpollEvent::empty(); 256];
        let mut trim = tokio::time::interval(TRIM_PERIOD);
        trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                _ = trim.tick() => {
                    use std::sync::atomic::Ordering::Relaxed;
                    // The tasks of the connections parked since the last tick are gone by
                    // now: their memory can leave the process.
                    if self.since_trim.load(Relaxed) >= TRIM_AFTER_PARKS {
                        self.since_trim.store(0, Relaxed);
                        // The burst's spare read buffers first, then the pages they free.
                        crate::io::pool::shrink();
                        crate::mem::trim();
                    }
                }
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
            (self.resume)(tcp, slot.state);
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
    use tokio::sync::oneshot;

    use crate::net::loopback_pair as pair;

    /// Whether the peer of `client` closed it within 5 s (a read at its end finds EOF).
    async fn closed_by_peer(client: &mut TcpStream) -> bool {
        let mut b = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut b)).await;
        matches!(read, Ok(Ok(0)))
    }

    /// A parked connection's state in these tests: where to send the socket back.
    type Back = oneshot::Sender<TcpStream>;

    fn send_back(s: TcpStream, tx: Back) {
        let _ = tx.send(s);
    }

    /// A parker, and the soft stop it watches.
    fn parker() -> (watch::Sender<bool>, Parker<Back>) {
        let (stop_tx, stop) = watch::channel(false);
        (stop_tx, Parker::new(stop, send_back).expect("parker"))
    }

    #[tokio::test]
    async fn a_parked_connection_comes_back_when_its_peer_writes() {
        let (_stop_tx, parker) = parker();
        let (mut client, server) = pair().await;
        let (tx, rx) = oneshot::channel();
        parker.park(server, None, tx).expect("parked");
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
        let (_stop_tx, parker) = parker();
        let (mut client, server) = pair().await;
        let (tx, mut rx) = oneshot::channel();
        let due = Instant::now() + Duration::from_millis(100);
        parker.park(server, Some(due), tx).expect("parked");
        assert!(closed_by_peer(&mut client).await, "the proxy side closed");
        assert!(Instant::now() >= due);
        assert_eq!(parker.parked(), 0);
        assert!(
            matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Closed)),
            "never resumed: its state was dropped"
        );
    }

    #[tokio::test]
    async fn soft_stop_closes_parked_connections_and_refuses_new_ones() {
        let (stop_tx, parker) = parker();
        let (mut client, server) = pair().await;
        let (tx, _rx) = oneshot::channel();
        parker.park(server, None, tx).expect("parked");
        stop_tx.send(true).expect("stop");
        assert!(closed_by_peer(&mut client).await, "the proxy side closed");
        let (_c2, s2) = pair().await;
        let (tx, _rx) = oneshot::channel();
        assert!(parker.park(s2, None, tx).is_err());
    }

    #[tokio::test]
    async fn a_stale_event_does_not_touch_a_later_occupant_of_the_slot() {
        let mut slots = Slots::default();
        let (_a, s1) = pair().await;
        let (_b, s2) = pair().await;
        let slot = |s: TcpStream| Slot {
            stream: s.into_std().expect("std"),
            due: None,
            state: (),
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
