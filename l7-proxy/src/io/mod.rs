//! Moving bytes with deadlines: time limits ([`within`], [`Deadline`]), HTTP/1.1 body
//! framing ([`body`]) and bidirectional tunnels ([`tunnel`]), all generic over
//! `AsyncRead + AsyncWrite` so plain and TLS streams share them.

pub mod body;
mod counted;
mod deadline;
pub mod more;
pub mod pool;
pub mod splice;
pub mod tunnel;

use std::future::Future;
use std::time::Duration;

pub use body::{chunk_size, copy_body, fill, CopyError, Framing};
pub use counted::Counted;
pub use deadline::Deadline;
pub use more::WriteMore;
pub use splice::{SpliceMode, Spliceable};
pub use tunnel::tunnel;

/// Read buffer size per direction; also the largest request/response head accepted.
pub const BUF: usize = 16 * 1024;

/// Runs `fut` with an optional time limit (`None` = no limit).
pub async fn within<F: Future>(limit: Option<Duration>, fut: F) -> Option<F::Output> {
    match limit {
        Some(d) => tokio::time::timeout(d, fut).await.ok(),
        None => Some(fut.await),
    }
}
