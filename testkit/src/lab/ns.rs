//! The lab's namespaces: removing them, also those a killed test process left behind.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::process::run_ok;

/// Kills every process in `ns` and deletes it. Best effort, bounded (about 2 s).
pub(super) fn remove_ns(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let pids = ns_pids(ns);
        if pids.is_empty() || Instant::now() >= deadline {
            break;
        }
        for p in pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = run_ok("ip", ["netns", "del", ns]);
}

fn ns_pids(ns: &str) -> Vec<i32> {
    run_ok("ip", ["netns", "pids", ns])
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Removes namespaces left behind by test processes that no longer exist (e.g. killed by a
/// timeout before their `Drop` ran): names `tk-PREFIX-PID-N-NODE` whose PID is gone.
pub fn sweep_stale() {
    let Ok(list) = run_ok("ip", ["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("tk-") else {
            continue;
        };
        // PREFIX-PID-N-NODE: PID is the third field from the end.
        let fields: Vec<&str> = rest.rsplitn(4, '-').collect();
        if fields.len() != 4 {
            continue;
        }
        let Ok(pid) = fields[2].parse::<u32>() else {
            continue;
        };
        if fields[1].parse::<u32>().is_err() {
            continue;
        }
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            remove_ns(name);
        }
    }
}
