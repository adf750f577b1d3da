//! The file budget: how many descriptors a configuration needs, and the process limit
//! raised to it at start. As HAProxy does: every connection may hold two descriptors (the
//! client's and the server's), a `global maxconn` that the limit cannot carry refuses to
//! start (HAProxy's `strict-limits`, its default), and without `maxconn` the limit decides
//! it. Idle server connections get a quarter of the budget (`tune.pool-high-fd-ratio`).
//! With `option splice-*` in use, `maxpipes` pipes (default a quarter of `maxconn`, as in
//! HAProxy) take two descriptors each.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use crate::config::Config;

/// Descriptors kept for everything but connections and listeners: stdio, the reactor and
/// its waker, the signal pipe, log sockets, the metrics listener, files read at reload
/// (about 12 in use; HAProxy keeps 15 for the same).
const RESERVED: u64 = 32;
/// Share of the file limit idle server connections may hold, in percent.
const IDLE_SHARE: u64 = 25;

/// What the process runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileBudget {
    /// The soft file limit now in force.
    pub limit: u64,
    /// The global `maxconn` in force.
    pub maxconn: u32,
    /// `maxconn` was not configured: it was derived from the limit.
    pub derived: bool,
}

/// Why the limit cannot carry the configuration.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// The limit could not be read.
    #[error("cannot read the file limit: {0}")]
    Read(nix::Error),
    /// Raising the limit to what the configuration needs failed.
    #[error(
        "cannot raise the file limit to {needed} ({why}): the limit is {soft} (hard {hard}) \
         and raising it failed: {source}; lower 'maxconn' or raise the limit \
         (ulimit -n, systemd LimitNOFILE=)"
    )]
    CannotRaise {
        /// Descriptors needed.
        needed: u64,
        /// What needs them.
        why: String,
        /// The soft limit.
        soft: u64,
        /// The hard limit.
        hard: u64,
        /// The error of `setrlimit`.
        source: nix::Error,
    },
    /// `ulimit-n` is below what `maxconn` needs (HAProxy refuses the same).
    #[error("'ulimit-n {ulimit}' is below the {needed} files 'maxconn {maxconn}' needs; raise ulimit-n or lower maxconn")]
    UlimitBelowMaxconn {
        /// `ulimit-n`.
        ulimit: u64,
        /// Descriptors `maxconn` needs.
        needed: u64,
        /// The global `maxconn`.
        maxconn: u32,
    },
    /// The limit leaves no descriptor for connections.
    #[error("the file limit {limit} is too low: {RESERVED} descriptors are kept for the process itself and every connection needs 2")]
    TooLow {
        /// The limit.
        limit: u64,
    },
}

/// Descriptors `cfg` needs besides its connections: listeners, health checks, reserve.
fn fixed_files(cfg: &Config) -> u64 {
    let listeners: usize = cfg.frontends.iter().map(|f| f.binds.len()).sum();
    let checks: usize = cfg
        .backends
        .iter()
        .flat_map(|b| &b.servers)
        .filter(|s| s.params.check)
        .count();
    RESERVED + listeners as u64 + checks as u64
}

/// Descriptors needed by `maxconn` connections (a client's and a server's each) and their
/// pipes, besides `fixed` ones.
fn files_needed(fixed: u64, maxconn: u32, pipes: &Pipes) -> u64 {
    2 * u64::from(maxconn) + 2 * pipes.count(maxconn) + fixed
}

/// The pipes splicing may hold.
enum Pipes {
    /// No proxy splices (or `nosplice`).
    None,
    /// `maxpipes N`.
    Fixed(u32),
    /// A quarter of `maxconn`.
    QuarterOfMaxconn,
}

impl Pipes {
    fn of(cfg: &Config) -> Pipes {
        let splices = cfg.frontends.iter().any(|f| f.settings.splice.any())
            || cfg.backends.iter().any(|b| b.settings.splice.any());
        match (splices, cfg.global.maxpipes) {
            (false, _) => Pipes::None,
            (true, Some(n)) => Pipes::Fixed(n),
            (true, None) => Pipes::QuarterOfMaxconn,
        }
    }

    fn count(&self, maxconn: u32) -> u64 {
        match self {
            Pipes::None => 0,
            Pipes::Fixed(n) => u64::from(*n),
            Pipes::QuarterOfMaxconn => u64::from(maxconn) / 4,
        }
    }

    /// The largest `maxconn` whose connections and pipes fit in `files` descriptors.
    fn maxconn_within(&self, files: u64) -> u64 {
        match self {
            Pipes::None => files / 2,
            Pipes::Fixed(n) => files.saturating_sub(2 * u64::from(*n)) / 2,
            // 2 m + 2 (m / 4) <= files
            Pipes::QuarterOfMaxconn => files * 2 / 5,
        }
    }
}

/// Sets the soft file limit to `ulimit-n` when it is set, else raises it to what the
/// global `maxconn` needs, else to the hard limit; derives `maxconn` from the limit when it
/// is not set (writing it into `cfg`), and sizes the idle-connection budget.
pub fn apply(cfg: &mut Config) -> Result<FileBudget, LimitError> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(LimitError::Read)?;
    let fixed = fixed_files(cfg);
    let pipes = Pipes::of(cfg);
    let g = &cfg.global;
    let (target, why) = match (g.ulimit_n, g.maxconn) {
        (Some(n), _) => (u64::from(n), "ulimit-n".to_string()),
        (None, Some(m)) => (files_needed(fixed, m, &pipes), format!("maxconn {m}")),
        (None, None) => (hard, "the hard limit".to_string()),
    };
    // `ulimit-n` sets the limit exactly, as in HAProxy; otherwise it is only ever raised.
    let limit = if target > soft || (g.ulimit_n.is_some() && target != soft) {
        // Root may raise the hard limit too, as HAProxy does.
        setrlimit(Resource::RLIMIT_NOFILE, target, hard.max(target))
            .or_else(|_| setrlimit(Resource::RLIMIT_NOFILE, target, hard))
            .map_err(|source| LimitError::CannotRaise {
                needed: target,
                why,
                soft,
                hard,
                source,
            })?;
        target
    } else {
        soft
    };
    let (maxconn, derived) = match cfg.global.maxconn {
        Some(m) => (m, false),
        None => {
            let m = pipes.maxconn_within(limit.saturating_sub(fixed));
            if m == 0 {
                return Err(LimitError::TooLow { limit });
            }
            (u32::try_from(m).unwrap_or(u32::MAX), true)
        }
    };
    let needed = files_needed(fixed, maxconn, &pipes);
    if needed > limit {
        // Only with `ulimit-n` set below what `maxconn` needs.
        return Err(LimitError::UlimitBelowMaxconn {
            ulimit: limit,
            needed,
            maxconn,
        });
    }
    cfg.global.maxconn = Some(maxconn);
    let idle = usize::try_from(limit * IDLE_SHARE / 100).unwrap_or(usize::MAX);
    crate::backend::pool::set_idle_budget(idle);
    let pipe_budget = usize::try_from(pipes.count(maxconn)).unwrap_or(usize::MAX);
    crate::io::splice::set_pipe_budget(pipe_budget);
    Ok(FileBudget {
        limit,
        maxconn,
        derived,
    })
}
