//! The VRRP state machine of one virtual router, sans-IO.
//!
//! [`VirtualRouter`] takes [`Event`]s with the current [`Instant`] and queues [`Action`]s; it
//! never reads a clock or touches a socket, so the driver, the simulator ([`crate::sim`],
//! feature `sim`) and tests run the same code. Received adverts come in already decoded and
//! validated as an [`Advert`]; the [`Action::SendAdvert`] going out carries the priority and
//! interval the driver puts into the packet. Every dropped advert and every state change is
//! also queued as an [`Action::Observe`] for logs and metrics.
//!
//! Instances of a keepalived sync group are coordinated by a [`SyncGroup`].

mod config;
mod router;
mod sync;
mod time;
mod types;

pub use config::{ConfigError, GarpConfig, InitialState, RouterConfig, TrackConfig};
pub use router::{
    effective_priority, master_down_interval, skew_time, VirtualRouter, OWNER_PRIORITY,
};
pub use sync::SyncGroup;
pub use time::{Duration, Instant};
pub use types::{
    Action, Advert, DropReason, Event, FaultSource, GarpReason, Ignored, Observation, State,
    SyncCommand, TrackId, TransitionReason,
};
