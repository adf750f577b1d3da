//! From the statement tree to the typed [`Config`]: the top level here; the keyword tables
//! (`keywords`), value parsers (`values`), the other blocks (`sections`), an instance as
//! read (`instance`) and finished with its defaults (`finish`), and the checks across
//! blocks (`checks`).

mod checks;
mod finish;
mod instance;
mod keywords;
pub(crate) mod reference;
mod sections;
mod supported;
mod values;

use std::collections::{HashMap, HashSet};

use super::error::{ConfigError, Span, Warning, WarningKind};
use super::model::{Config, GlobalDefs};
use super::tree::Node;

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
fn unhandled(node: &Node) -> ConfigError {
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
        let mut scripts = Defined::new("vrrp_script");
        // (the instance, whether it was read without error)
        let mut raw_instances = Defined::new("vrrp_instance");
        let mut groups = Defined::new("vrrp_sync_group");
        for node in nodes {
            let top = || "the top level".to_string();
            if let Some(result) = self.unlisted(node, supported::TOP, TOP_UNIMPLEMENTED, top) {
                self.keep(result);
                continue;
            }
            let added = match kw(node) {
                "global_defs" => Ok(()),
                "vrrp_script" => match self.script(node) {
                    Some(s) => scripts.add(&s.name.clone(), &s.span.clone(), Some(s)),
                    // Known by name all the same: its trackers are not wrong too. (A bad
                    // name is already reported.)
                    None => match block_name(node) {
                        Ok(n) => scripts.add(&n.text, &n.span, None),
                        Err(_) => Ok(()),
                    },
                },
                "vrrp_instance" => {
                    let before = self.errors.len();
                    match self.raw_instance(node) {
                        Some(r) => {
                            let clean = self.errors.len() == before;
                            raw_instances.add(&r.name.clone(), &r.span.clone(), (r, clean))
                        }
                        None => Ok(()),
                    }
                }
                "vrrp_sync_group" => match self.sync_group(node) {
                    Some(g) => groups.add(&g.0.name.clone(), &g.0.span.clone(), g),
                    None => Ok(()),
                },
                _ => Err(unhandled(node)),
            };
            self.keep(added);
        }
        let script_names: HashSet<&str> = scripts.names.keys().map(String::as_str).collect();
        let instance_names: HashSet<&str> =
            raw_instances.names.keys().map(String::as_str).collect();
        let scripts: Vec<_> = scripts.items.into_iter().flatten().collect();
        let mut instances = Vec::new();
        for (raw, clean) in raw_instances.items {
            if clean {
                instances.extend(self.finish_instance(raw, &global, &script_names));
            } else {
                self.required(&raw);
            }
        }
        self.errors.extend(checks::unique_vrids(&instances));
        let (sync_groups, errors) = checks::sync_groups(groups.items, &instance_names);
        self.errors.extend(errors);
        Config {
            global,
            scripts,
            instances,
            sync_groups,
        }
    }
}
