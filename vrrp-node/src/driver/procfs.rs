//! What `/proc` says of processes, for tracking them: the scan of every running process at
//! start and after a reload, and a new program's name and command line at exec.

use std::io::Read;
use std::path::Path;

use crate::track::process::{Identity, ProcessTable};

/// How much of a command line is read: enough for any sensible `process` and parameters.
const MAX_CMDLINE: u64 = 4096;

/// One process as read from `/proc/PID`.
#[derive(Debug, Default)]
pub(super) struct ProcInfo {
    /// `comm`, without its newline (empty when not read).
    pub(super) comm: Vec<u8>,
    /// `cmdline` (when asked for and readable).
    pub(super) cmdline: Option<Vec<u8>>,
}

impl ProcInfo {
    /// What matching looks at.
    pub(super) fn identity(&self) -> Identity<'_> {
        Identity {
            comm: &self.comm,
            cmdline: self.cmdline.as_deref(),
        }
    }
}

/// `/proc/PID/comm` and, if `cmdline`, `/proc/PID/cmdline` of a process that just ran a new
/// program; what cannot be read (it ended already) is left empty and matches nothing.
pub(super) fn at_exec(pid: u32, comm: bool, cmdline: bool) -> ProcInfo {
    let dir = Path::new("/proc").join(pid.to_string());
    let mut info = ProcInfo::default();
    if comm {
        if let Ok(mut c) = std::fs::read(dir.join("comm")) {
            if c.last() == Some(&b'\n') {
                c.pop();
            }
            info.comm = c;
        }
    }
    if cmdline {
        info.cmdline = read_cmdline(&dir);
    }
    info
}

fn read_cmdline(dir: &Path) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::open(dir.join("cmdline"))
        .ok()?
        .take(MAX_CMDLINE)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The name and state from `/proc/PID/stat` ("pid (comm) S ..."): the name is between the
/// first `(` and the last `)`, since it may hold either.
fn stat_name_and_state(stat: &[u8]) -> Option<(&[u8], u8)> {
    let open = stat.iter().position(|b| *b == b'(')?;
    let close = stat.iter().rposition(|b| *b == b')')?;
    let name = stat.get(open + 1..close)?;
    let state = *stat.get(close + 2)?;
    Some((name, state))
}

/// Every running process, read for `table`'s trackers (see [`ProcessTable::scan`]): name
/// and state from `/proc/PID/stat` when names are compared, `cmdline` when command lines
/// are. A zombie or dead process is not running (keepalived leaves them out, where pgrep
/// does not); one that ends while the scan reads it is simply not found.
pub(super) fn running(table: &ProcessTable) -> Vec<(u32, ProcInfo)> {
    let (want_comm, want_cmdline) = (table.wants_comm(), table.wants_cmdline());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let Ok(stat) = std::fs::read(path.join("stat")) else {
            continue;
        };
        let mut info = ProcInfo::default();
        match stat_name_and_state(&stat) {
            Some((_, b'Z' | b'X')) | None => continue,
            Some((name, _)) if want_comm => info.comm = name.to_vec(),
            Some(_) => {}
        }
        if want_cmdline {
            info.cmdline = read_cmdline(&path);
        }
        found.push((pid, info));
    }
    found
}

/// Counts every running process into `table` from scratch.
pub(super) fn scan(table: &mut ProcessTable) {
    let found = running(table);
    table.scan(found.iter().map(|(pid, info)| (*pid, info.identity())));
}

/// [`scan`], reporting the trackers whose state changed (events were lost).
pub(super) fn rescan(table: &mut ProcessTable) {
    let found = running(table);
    table.rescan(found.iter().map(|(pid, info)| (*pid, info.identity())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_names_may_hold_spaces_and_parentheses() {
        assert_eq!(
            stat_name_and_state(b"42 (a (b) c) S 1 42"),
            Some((&b"a (b) c"[..], b'S'))
        );
        assert_eq!(stat_name_and_state(b"7 (x) Z 1"), Some((&b"x"[..], b'Z')));
        assert_eq!(stat_name_and_state(b"7 (x)"), None);
        assert_eq!(stat_name_and_state(b"garbage"), None);
    }

    #[test]
    fn this_test_process_is_found_by_the_scan() {
        let me = std::process::id();
        let comm = at_exec(me, true, true);
        assert!(!comm.comm.is_empty());
        assert!(comm.cmdline.as_ref().is_some_and(|c| !c.is_empty()));
        let cfg = crate::config::VrrpTrackProcess::new(
            "me".into(),
            crate::config::Span::nowhere(),
            String::from_utf8_lossy(&comm.comm).into_owned(),
        );
        let mut table = ProcessTable::new(&[cfg]);
        scan(&mut table);
        let states = table.states();
        assert!(states[0].up && states[0].count >= 1, "{states:?}");
    }
}
