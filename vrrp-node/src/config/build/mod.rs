//! From the statement tree to the typed [`Config`]: the top level here; the keyword tables
//! (`keywords`), value parsers (`values`), the other blocks (`sections`), tracked processes
//! and files (`tracked`), an instance as read (`instance`) and finished with its defaults
//! (`finish`), and the checks across blocks (`checks`).

mod anycast;
mod checks;
mod finish;
mod instance;
mod keywords;
pub(crate) mod reference;
mod sections;
mod supported;
mod tracked;
mod values;

use std::collections::{HashMap, HashSet};

use super::anycast::AnycastRoute;
use super::error::{ConfigError, Span, Warning, WarningKind};
use super::model::{Config, GlobalDefs, SyncGroup, VrrpScript};
use super::tracked::{VrrpTrackFile, VrrpTrackProcess};
use super::tree::{Node, Word};

use keywords::TOP_UNIMPLEMENTED;
use supported::{listed, Table};
use values::{block, block_name, earlier, invalid, kw, no_args, unknown_keyword};

pub(crate) use values::split_command_line;

type R<T> = Result<T, ConfigError>;

struct Builder {
    warnings: Vec<Warning>,
    /// Every error met so far: a bad statement is reported and the building goes on with
    /// the next one, as keepalived reports every bad line of a file.
    errors: Vec<ConfigError>,
}

/// The configuration of `nodes`, or every error found in them (in the order found).
pub(crate) fn build(
    nodes: &[Node],
    warnings: &mut Vec<Warning>,
) -> Result<Config, Vec<ConfigError>> {
    let mut b = Builder {
        warnings: std::mem::take(warnings),
        errors: Vec::new(),
    };
    let config = b.config(nodes);
    *warnings = b.warnings;
    if b.errors.is_empty() {
        Ok(config)
    } else {
        Err(b.errors)
    }
}

/// The blocks of one kind in the order they are defined, each name once: a second
/// definition is an error that points at the first.
struct Defined<T> {
    kind: &'static str,
    items: Vec<T>,
    /// Name -> where it was defined, so that many blocks do not cost quadratic time.
    names: HashMap<String, Span>,
}

impl<T> Defined<T> {
    fn new(kind: &'static str) -> Self {
        Defined {
            kind,
            items: Vec::new(),
            names: HashMap::new(),
        }
    }

    fn add(&mut self, name: &str, span: &Span, item: T) -> R<()> {
        if let Some(prev) = self.names.get(name) {
            return Err(invalid(
                span,
                format!(
                    "{} \"{name}\" is already defined at {}",
                    self.kind,
                    earlier(prev, span)
                ),
            ));
        }
        self.names.insert(name.to_string(), span.clone());
        self.items.push(item);
        Ok(())
    }
}

/// A keyword its block's table lists and its dispatcher does not handle: a bug, reported
/// rather than ignored (the keyword tables' tests load every listed keyword).
pub(super) fn unhandled(node: &Node) -> ConfigError {
    invalid(
        &node.name.span,
        format!(
            "{} is listed as supported but not handled (a bug in vrrpd)",
            kw(node)
        ),
    )
}

impl Builder {
    /// The value of `result`; its error, if any, is recorded and the caller goes on.
    fn keep<T>(&mut self, result: R<T>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    fn warn(&mut self, span: &Span, keyword: &str, kind: WarningKind, message: impl Into<String>) {
        self.warnings.push(Warning {
            span: span.clone(),
            keyword: keyword.to_string(),
            kind,
            message: message.into(),
        });
    }

    /// Handles a keyword from `list`, returning whether it was one.
    fn not_implemented(&mut self, node: &Node, list: &[&str]) -> bool {
        if !list.contains(&kw(node)) {
            return false;
        }
        let message = if node.block.is_some() {
            "not implemented; block ignored"
        } else {
            "not implemented; ignored"
        };
        self.warn(
            &node.name.span,
            kw(node),
            WarningKind::NotImplemented,
            message,
        );
        true
    }

    /// The outcome of a keyword that `supported` does not list: `None` when it does (the
    /// caller handles it), else a warning when `unimplemented` lists it, else an unknown
    /// keyword in `context`.
    fn unlisted(
        &mut self,
        node: &Node,
        supported: Table,
        unimplemented: &[&str],
        context: impl FnOnce() -> String,
    ) -> Option<R<()>> {
        if listed(supported, kw(node)) {
            return None;
        }
        if self.not_implemented(node, unimplemented) {
            return Some(Ok(()));
        }
        Some(Err(unknown_keyword(node, context())))
    }

    /// The configuration of `nodes`; meaningful only when no error was recorded. A block
    /// with an error is left out of the checks that need it whole (an instance read with
    /// errors is not finished), so that one mistake is not reported again as others.
    fn config(&mut self, nodes: &[Node]) -> Config {
        let mut global = GlobalDefs::default();
        // global_defs first: instances take their defaults from it wherever it stands.
        for node in nodes.iter().filter(|n| kw(n) == "global_defs") {
            self.keep(no_args(node));
            if let Some(children) = self.keep(block(node)) {
                self.global_defs(children, &mut global);
            }
        }
        let mut blocks = Blocks::default();
        for node in nodes {
            let top = || "the top level".to_string();
            if let Some(result) = self.unlisted(node, supported::TOP, TOP_UNIMPLEMENTED, top) {
                self.keep(result);
                continue;
            }
            let added = self.top_level(node, &mut blocks);
            self.keep(added);
        }
        let known = Known {
            scripts: blocks.scripts.names.keys().map(String::as_str).collect(),
            processes: blocks.processes.names.keys().map(String::as_str).collect(),
            files: blocks.files.names.keys().map(String::as_str).collect(),
        };
        let instance_names: HashSet<&str> =
            blocks.instances.names.keys().map(String::as_str).collect();
        let mut instances = Vec::new();
        for (raw, clean) in blocks.instances.items {
            if clean {
                instances.extend(self.finish_instance(raw, &global, &known));
            } else {
                self.required(&raw);
            }
        }
        let anycast_routes: Vec<AnycastRoute> =
            blocks.anycast.items.into_iter().flatten().collect();
        self.errors
            .extend(anycast::check_anycast_routes(&anycast_routes, &known));
        self.errors.extend(checks::unique_vrids(&instances));
        self.errors
            .extend(checks::group_tracks(&blocks.groups.items, &known));
        let processes: Vec<_> = blocks.processes.items.into_iter().flatten().collect();
        let files: Vec<_> = blocks.files.items.into_iter().flatten().collect();
        self.group_weight_warnings(&blocks.groups.items, &processes, &files);
        let (sync_groups, errors) = checks::sync_groups(blocks.groups.items, &instance_names);
        self.errors.extend(errors);
        Config {
            global,
            scripts: blocks.scripts.items.into_iter().flatten().collect(),
            instances,
            sync_groups,
            track_processes: processes,
            track_files: files,
            anycast_routes,
        }
    }

    /// One top-level statement into `blocks`. A named block with errors is still known by
    /// name (`None`): what refers to it is not wrong too. (A bad name is already reported.)
    fn top_level(&mut self, node: &Node, blocks: &mut Blocks) -> R<()> {
        fn known_by_name<T>(node: &Node, defined: &mut Defined<Option<T>>) -> R<()> {
            match block_name(node) {
                Ok(n) => defined.add(&n.text, &n.span, None),
                Err(_) => Ok(()),
            }
        }
        match kw(node) {
            "global_defs" => Ok(()),
            "vrrp_script" => match self.script(node) {
                Some(s) => blocks
                    .scripts
                    .add(&s.name.clone(), &s.span.clone(), Some(s)),
                None => known_by_name(node, &mut blocks.scripts),
            },
            "vrrp_track_process" => match self.track_process_block(node) {
                Some(p) => blocks
                    .processes
                    .add(&p.name.clone(), &p.span.clone(), Some(p)),
                None => known_by_name(node, &mut blocks.processes),
            },
            // keepalived: vrrp_track_file is the older name of the same block.
            "track_file" | "vrrp_track_file" => match self.track_file_block(node) {
                Some(f) => blocks.files.add(&f.name.clone(), &f.span.clone(), Some(f)),
                None => known_by_name(node, &mut blocks.files),
            },
            "vrrp_instance" => {
                let before = self.errors.len();
                match self.raw_instance(node) {
                    Some(r) => {
                        let clean = self.errors.len() == before;
                        let (name, span) = (r.name.clone(), r.span.clone());
                        blocks.instances.add(&name, &span, (r, clean))
                    }
                    None => Ok(()),
                }
            }
            // Ours, not keepalived's: see docs/anycast.md.
            "anycast_route" => match self.anycast_route(node) {
                Some(a) => blocks
                    .anycast
                    .add(&a.name.clone(), &a.span.clone(), Some(a)),
                None => known_by_name(node, &mut blocks.anycast),
            },
            "vrrp_sync_group" => match self.sync_group(node) {
                Some(g) => blocks.groups.add(&g.0.name.clone(), &g.0.span.clone(), g),
                None => Ok(()),
            },
            _ => Err(unhandled(node)),
        }
    }
}

/// The named blocks of a file as read.
struct Blocks {
    scripts: Defined<Option<VrrpScript>>,
    processes: Defined<Option<VrrpTrackProcess>>,
    files: Defined<Option<VrrpTrackFile>>,
    /// (the instance, whether it was read without error)
    instances: Defined<(instance::RawInstance, bool)>,
    groups: Defined<(SyncGroup, Vec<Word>)>,
    anycast: Defined<Option<AnycastRoute>>,
}

impl Default for Blocks {
    fn default() -> Self {
        Blocks {
            scripts: Defined::new("vrrp_script"),
            processes: Defined::new("vrrp_track_process"),
            files: Defined::new("track_file"),
            instances: Defined::new("vrrp_instance"),
            groups: Defined::new("vrrp_sync_group"),
            anycast: Defined::new("anycast_route"),
        }
    }
}

/// The names of the blocks a `track_*` line may refer to, with errors or not.
pub(super) struct Known<'a> {
    pub(super) scripts: HashSet<&'a str>,
    pub(super) processes: HashSet<&'a str>,
    pub(super) files: HashSet<&'a str>,
}
