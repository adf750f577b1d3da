//! `vrrp_track_process` and `track_file` (`vrrp_track_file`) blocks, and the `track_process
//! { }` / `track_file { }` lines of instances and sync groups, with keepalived's defaults and
//! ranges (keepalived.conf(5), "VRRP track processes" and "Track files").

use std::collections::HashSet;
use std::path::PathBuf;

use crate::config::error::{ConfigError, WarningKind};
use crate::config::model::SyncGroup;
use crate::config::tracked::{InitFile, ParamMatch, TrackRef, VrrpTrackFile, VrrpTrackProcess};
use crate::config::tree::{Node, Word};

use super::values::*;
use super::{supported, unhandled, Builder, R};

/// Longest process name the kernel keeps (`/proc/PID/comm`: TASK_COMM_LEN - 1).
const MAX_COMM: usize = 15;
/// keepalived's limit for a delay, in seconds.
const MAX_DELAY_SECS: u64 = 3600;
/// keepalived's limits for quorum and quorum_max.
const MAX_QUORUM: u32 = 65535;
/// Weight range on a `track_process { }` / `track_file { }` line and in a
/// `vrrp_track_process` (keepalived: -254..254, 254 being there for a file's negative value).
const MAX_TRACK_WEIGHT: i64 = 254;
/// Weight range in a `track_file` block (keepalived takes any int but INT_MIN).
const MAX_FILE_WEIGHT: i64 = i32::MAX as i64;

/// What a `vrrp_track_process` block said besides the settings kept in the model, for the
/// checks made once the block is read.
#[derive(Default)]
struct ProcessSeen<'n> {
    /// The `process` line's name word, and its value.
    process: Option<(&'n Word, &'n Word)>,
    param_match: Option<ParamMatch>,
    quorum: bool,
    quorum_max: Option<&'n Word>,
}

impl Builder {
    /// A `vrrp_track_process`; `None` when it has errors (each recorded).
    pub(super) fn track_process_block(&mut self, node: &Node) -> Option<VrrpTrackProcess> {
        let name = self.keep(block_name(node))?;
        let before = self.errors.len();
        let mut p = VrrpTrackProcess::new(name.text.clone(), name.span.clone(), String::new());
        let mut seen = ProcessSeen::default();
        let children = self.keep(block(node)).unwrap_or_default();
        for child in children {
            let context = || format!("vrrp_track_process {}", name.text);
            if let Some(r) = self.unlisted(child, supported::TRACK_PROCESS, &[], context) {
                self.keep(r);
                continue;
            }
            let result = process_setting(child, &mut p, &mut seen);
            self.keep(result);
        }
        let failed = |k: &str| children.iter().any(|c| kw(c) == k);
        match seen.process {
            // A bad `process` line is reported as such, not again as a missing one.
            None if !failed("process") => self.errors.push(invalid(
                &name.span,
                format!("vrrp_track_process \"{}\" has no process", name.text),
            )),
            None => {}
            Some((_, w)) => self.process_name_warning(&p, w),
        }
        // Parameters or param_match compare the command line (keepalived sets full_command).
        p.param_match = seen.param_match.unwrap_or(if p.params.is_empty() {
            ParamMatch::None
        } else {
            ParamMatch::Exact
        });
        p.full_command |= p.param_match != ParamMatch::None;
        self.keep(settle_quorum(&mut p, &seen));
        (self.errors.len() == before).then_some(p)
    }

    /// A process name the kernel's `comm` can never equal, without `full_command`.
    fn process_name_warning(&mut self, p: &VrrpTrackProcess, w: &Word) {
        if p.full_command || !p.params.is_empty() {
            return;
        }
        if p.process.contains('/') || p.process.chars().count() > MAX_COMM {
            self.warn(
                &w.span,
                "process",
                WarningKind::Ignored,
                format!(
                    "\"{}\" is compared with the process name (/proc/PID/comm: no path, at \
                     most {MAX_COMM} characters) and never matches one; add full_command to \
                     compare the command line",
                    p.process
                ),
            );
        }
    }

    /// A `track_file` (or `vrrp_track_file`) block; `None` when it has errors (each recorded).
    pub(super) fn track_file_block(&mut self, node: &Node) -> Option<VrrpTrackFile> {
        let name = self.keep(block_name(node))?;
        let before = self.errors.len();
        let mut f = VrrpTrackFile {
            name: name.text.clone(),
            span: name.span.clone(),
            path: PathBuf::new(),
            weight: 1,
            weight_reverse: false,
            init_file: None,
        };
        let children = self.keep(block(node)).unwrap_or_default();
        for child in children {
            let context = || format!("track_file {}", name.text);
            if let Some(r) = self.unlisted(child, supported::TRACK_FILE, &[], context) {
                self.keep(r);
                continue;
            }
            let result = file_setting(child, &mut f);
            self.keep(result);
        }
        if f.path.as_os_str().is_empty() && !children.iter().any(|c| kw(c) == "file") {
            self.errors.push(invalid(
                &name.span,
                format!("track_file \"{}\" has no file", name.text),
            ));
        }
        (self.errors.len() == before).then_some(f)
    }

    /// The lines of a `track_process { }` or `track_file { }` block (`keyword`) into `refs`,
    /// each line's error recorded on its own.
    pub(super) fn track_refs(&mut self, node: &Node, keyword: &str, refs: &mut Vec<TrackRef>) {
        let Some(lines) = self.keep(no_args(node).and_then(|()| block(node))) else {
            return;
        };
        for line in lines {
            let result = track_ref(line, keyword, refs);
            if let Some(r) = self.keep(result) {
                refs.push(r);
            }
        }
    }

    /// keepalived wants weight 0 on what a sync group tracks unless the group has
    /// `sync_group_tracking_weight` (not implemented): a group's tracked process or file
    /// faults every member, and a weight in force is said to be ignored.
    pub(super) fn group_weight_warnings(
        &mut self,
        groups: &[(SyncGroup, Vec<Word>)],
        processes: &[VrrpTrackProcess],
        files: &[VrrpTrackFile],
    ) {
        for (g, _) in groups {
            let lists = [
                ("track_process", &g.track_processes, true),
                ("track_file", &g.track_files, false),
            ];
            for (keyword, refs, is_process) in lists {
                for t in refs {
                    let block_weight = if is_process {
                        processes
                            .iter()
                            .find(|p| p.name == t.name)
                            .map(|p| p.weight)
                    } else {
                        files.iter().find(|f| f.name == t.name).map(|f| f.weight)
                    };
                    let weight = t.weight.or(block_weight).unwrap_or(0);
                    if weight != 0 {
                        self.warn(
                            &t.span,
                            keyword,
                            WarningKind::Adjusted,
                            format!(
                                "weight {weight} of \"{}\" ignored in vrrp_sync_group \"{}\": \
                                 a failure faults every member (sync_group_tracking_weight is \
                                 not implemented)",
                                t.name, g.name
                            ),
                        );
                    }
                }
            }
        }
    }
}

/// One keyword of a `vrrp_track_process` into `p`.
fn process_setting<'n>(
    child: &'n Node,
    p: &mut VrrpTrackProcess,
    seen: &mut ProcessSeen<'n>,
) -> R<()> {
    match kw(child) {
        "process" => {
            no_block(child)?;
            let Some((first, params)) = child.args.split_first() else {
                return Err(missing(child, "a process name and optional parameters"));
            };
            if first.text.is_empty() {
                return Err(invalid_value(first, "process", "a process name"));
            }
            if let Some((prev, _)) = seen.process {
                return Err(invalid(
                    &child.name.span,
                    format!(
                        "process is already set for vrrp_track_process \"{}\" at {}",
                        p.name,
                        earlier(&prev.span, &child.name.span)
                    ),
                ));
            }
            seen.process = Some((&child.name, first));
            p.process = first.text.clone();
            p.params = params.iter().map(|w| w.text.clone()).collect();
        }
        "param_match" => {
            no_block(child)?;
            // keepalived: alone it means exact (no parameters at all); "exact" is ours.
            seen.param_match = Some(match child.args.as_slice() {
                [] => ParamMatch::Exact,
                [w] => match w.text.as_str() {
                    "initial" => ParamMatch::Initial,
                    "partial" => ParamMatch::Partial,
                    "exact" => ParamMatch::Exact,
                    _ => return Err(invalid_value(w, "param_match", "initial or partial")),
                },
                [_, extra, ..] => return Err(unexpected(extra, "param_match")),
            });
        }
        "weight" => {
            (p.weight, p.weight_reverse) = block_weight(child, MAX_TRACK_WEIGHT)?;
        }
        "quorum" => {
            p.quorum = u32_arg(child, 1, MAX_QUORUM)?;
            seen.quorum = true;
        }
        "quorum_max" => {
            p.quorum_max = u32_arg(child, 0, MAX_QUORUM)?;
            seen.quorum_max = child.args.first();
        }
        "fork_delay" => p.fork_delay = seconds_arg(child, MAX_DELAY_SECS)?,
        "terminate_delay" => p.terminate_delay = seconds_arg(child, MAX_DELAY_SECS)?,
        // keepalived: sets both, the later line winning either way.
        "delay" => {
            p.fork_delay = seconds_arg(child, MAX_DELAY_SECS)?;
            p.terminate_delay = p.fork_delay;
        }
        "full_command" => p.full_command = flag(child)?,
        _ => return Err(unhandled(child)),
    }
    Ok(())
}

/// quorum ≤ quorum_max; `quorum_max 0` alone means "up while none runs" (keepalived sets
/// the quorum to 0 then).
fn settle_quorum(p: &mut VrrpTrackProcess, seen: &ProcessSeen<'_>) -> R<()> {
    let Some(max_word) = seen.quorum_max else {
        return Ok(());
    };
    if p.quorum_max == 0 && !seen.quorum {
        p.quorum = 0;
    } else if p.quorum_max < p.quorum {
        return Err(invalid(
            &max_word.span,
            format!(
                "quorum_max {} is below quorum {} in vrrp_track_process \"{}\"",
                p.quorum_max, p.quorum, p.name
            ),
        ));
    }
    Ok(())
}

/// `weight W [reverse]` inside a block, W in ±`max`.
fn block_weight(child: &Node, max: i64) -> R<(i32, bool)> {
    no_block(child)?;
    let expected = format!("an integer -{max}..{max}");
    let weight = |w: &Word| -> R<i32> {
        let v = int_word(w, "weight", -max, max)?;
        Ok(i32::try_from(v).unwrap_or(0))
    };
    match child.args.as_slice() {
        [] => Err(missing(child, &expected)),
        [w] => Ok((weight(w)?, false)),
        [w, r] if r.text == "reverse" => Ok((weight(w)?, true)),
        [_, extra, ..] => Err(unexpected(extra, "weight")),
    }
}

/// One keyword of a `track_file` block into `f`.
fn file_setting(child: &Node, f: &mut VrrpTrackFile) -> R<()> {
    match kw(child) {
        "file" => {
            let w = one_arg(child, "a file path")?;
            if w.text.is_empty() {
                return Err(invalid_value(w, "file", "a file path"));
            }
            f.path = PathBuf::from(&w.text);
        }
        "weight" => (f.weight, f.weight_reverse) = block_weight(child, MAX_FILE_WEIGHT)?,
        "init_file" => f.init_file = Some(init_file(child)?),
        _ => return Err(unhandled(child)),
    }
    Ok(())
}

/// `init_file [VALUE] [overwrite]`.
fn init_file(child: &Node) -> R<InitFile> {
    no_block(child)?;
    let value = |w: &Word| int_word(w, "init_file", i64::from(i32::MIN), i64::from(i32::MAX));
    let (value, overwrite) = match child.args.as_slice() {
        [] => (0, false),
        [o] if o.text == "overwrite" => (0, true),
        [v] => (value(v)?, false),
        [v, o] if o.text == "overwrite" => (value(v)?, true),
        [_, extra, ..] => return Err(unexpected(extra, "init_file")),
    };
    Ok(InitFile { value, overwrite })
}

/// One `NAME [weight W [reverse|noreverse]]` line of a `track_process { }` or `track_file
/// { }` block (`keyword`); a name already in `earlier_refs` is an error.
fn track_ref(line: &Node, keyword: &str, earlier_refs: &[TrackRef]) -> R<TrackRef> {
    no_block(line)?;
    let expected = format!("an integer -{MAX_TRACK_WEIGHT}..{MAX_TRACK_WEIGHT}");
    let weight = |w: &Word| -> R<Option<i32>> {
        let v = int_word(w, "weight", -MAX_TRACK_WEIGHT, MAX_TRACK_WEIGHT)?;
        Ok(i32::try_from(v).ok())
    };
    let (weight, weight_reverse) = match line.args.as_slice() {
        [] => (None, None),
        [k] if k.text == "weight" => {
            return Err(ConfigError::MissingValue {
                span: k.span.clone(),
                keyword: "weight".into(),
                expected,
            })
        }
        [k, w] if k.text == "weight" => (weight(w)?, None),
        [k, w, r] if k.text == "weight" && r.text == "reverse" => (weight(w)?, Some(true)),
        [k, w, r] if k.text == "weight" && r.text == "noreverse" => (weight(w)?, Some(false)),
        [k, _, extra, ..] if k.text == "weight" => return Err(unexpected(extra, keyword)),
        [extra, ..] => return Err(unexpected(extra, keyword)),
    };
    if let Some(prev) = earlier_refs.iter().find(|t| t.name == line.name.text) {
        return Err(invalid(
            &line.name.span,
            format!(
                "{keyword} \"{}\" is already listed at {}",
                line.name.text,
                earlier(&prev.span, &line.name.span)
            ),
        ));
    }
    Ok(TrackRef {
        name: line.name.text.clone(),
        weight,
        weight_reverse,
        span: line.name.span.clone(),
    })
}

/// An error for each of `refs` (lines of `keyword`) that names none of `known` (blocks of
/// `kind`).
pub(super) fn unknown_refs(
    refs: &[TrackRef],
    known: &HashSet<&str>,
    keyword: &str,
    kind: &str,
) -> Vec<ConfigError> {
    refs.iter()
        .filter(|t| !known.contains(t.name.as_str()))
        .map(|t| invalid(&t.span, format!("{keyword} \"{}\" names no {kind}", t.name)))
        .collect()
}
