//! The VRRP state machine of one virtual router, sans-IO.
//!
//! [`VirtualRouter`] takes [`Event`]s (`handle`) and timer expiries (`handle_timeout`) with
//! the current [`Instant`] and queues [`Action`]s (`poll_action`); it never reads a clock or
//! touches a socket, so the driver, the simulator (`crate::sim`, feature `sim`) and tests run
//! the same code. Received adverts come in already decoded and validated as an [`Advert`];
//! the [`Action::SendAdvert`] going out carries the priority and interval the driver puts
//! into the packet. Every dropped advert and every state change is also queued as an
//! [`Action::Observe`] for logs, and counted in [`VirtualRouter::stats`].
//!
//! # Driver loop
//!
//! ```text
//! vr = VirtualRouter::new(RouterConfig { .. from keepalived.conf .. })?
//! vr.handle(now(), Event::Startup)
//! loop {
//!     drain: while let Some(a) = vr.poll_action() { carry out a }
//!     select {
//!         packet = socket.recv() => decode + validate (TTL, checksum, auth, addresses),
//!                                   vr.handle(now(), Event::Advert(Advert { .. }))
//!         sleep_until(vr.next_deadline()) => vr.handle_timeout(now())
//!         check result             => vr.handle(now(), Event::Track { id, up })
//!         link change              => vr.handle(now(), Event::InterfaceUp / InterfaceDown)
//!         SIGTERM                  => vr.handle(now(), Event::Shutdown), drain, exit
//!     }
//! }
//! ```
//!
//! Carrying out the actions:
//!
//! | action | the driver |
//! | --- | --- |
//! | [`Action::SendAdvert`] `{ priority, max_advert_interval }` | sends an advert with the instance's VIPs; the interval is already in the packet's unit (v3 centiseconds, v2 seconds) |
//! | [`Action::InstallVips`] / [`Action::RemoveVips`] | adds / removes the instance's addresses (and virtual routes) |
//! | [`Action::SendGarp`] `{ count, reason }` | sends `count` GARPs / unsolicited NAs per address (spacing per `garp_interval` is the driver's) |
//! | [`Action::Notify`] `{ state }` | runs notify scripts, updates status; [`State::keepalived_name`] gives `MASTER`, `BACKUP`, `FAULT`, `STOP` |
//! | [`Action::Observe`] | logs and counts the [`Observation`] |
//!
//! Time is the driver's: map a monotonic clock to [`Instant`] by measuring from the driver's
//! start in microseconds. Deadlines are absolute; calling [`VirtualRouter::handle_timeout`]
//! late is harmless, early is a no-op.
//!
//! Instances of a keepalived sync group are coordinated by a [`SyncGroup`]: show it every
//! action of each member and feed its commands back as [`Event::Sync`].

pub mod anycast;
mod config;
mod router;
mod rules;
mod stats;
mod sync;
mod time;
mod timer;
mod types;

pub use config::{
    ConfigError, GarpConfig, InitialState, ReconfigureError, RouterConfig, TrackConfig,
};
pub use router::VirtualRouter;
pub use rules::{effective_priority, master_down_interval, skew_time, OWNER_PRIORITY};
pub use stats::Stats;
pub use sync::SyncGroup;
pub use time::{Duration, Instant};
pub use types::{
    Action, Advert, DropReason, Event, FaultSource, GarpReason, Ignored, Observation, State,
    SyncCommand, TrackId, TransitionReason,
};
