//! From the statement tree to the typed [`Config`]: the top level here; the keyword tables
//! (`keywords`), value parsers (`values`), the other blocks (`sections`), an instance as
//! read (`instance`) and finished with its defaults (`finish`), and the checks across
//! blocks (`checks`).

mod checks;
mod finish;
mod instance;
mod keywords;
mod sections;
mod values;

use std::collections::HashMap;

use super::error::{ConfigError, Span, Warning, WarningKind};
use super::model::{Config, GlobalDefs};
use super::tree::Node;

use keywords::TOP_UNIMPLEMENTED;
use values::{block, earlier, invalid, kw, no_args, unknown_keyword};

pub(crate) use values::split_command_line;

type R<T> = Result<T, ConfigError>;

struct Builder {
    warnings: Vec<Warning>,
}

pub(crate) fn build(nodes: &[Node], warnings: &mut Vec<Warning>) -> R<Config> {
    let mut b = Builder {
        warnings: std::mem::take(warnings),
    };
    let result = b.config(nodes);
    *warnings = b.warnings;
    result
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

impl Builder {
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

    fn config(&mut self, nodes: &[Node]) -> R<Config> {
        let mut global = GlobalDefs::default();
        // global_defs first: instances take their defaults from it wherever it stands.
        for node in nodes.iter().filter(|n| kw(n) == "global_defs") {
            no_args(node)?;
            self.global_defs(block(node)?, &mut global)?;
        }
        let mut scripts = Defined::new("vrrp_script");
        let mut raw_instances = Defined::new("vrrp_instance");
        let mut groups = Defined::new("vrrp_sync_group");
        for node in nodes {
            match kw(node) {
                "global_defs" => {}
                "vrrp_script" => {
                    let s = self.script(node)?;
                    scripts.add(&s.name.clone(), &s.span.clone(), s)?;
                }
                "vrrp_instance" => {
                    let r = self.raw_instance(node)?;
                    raw_instances.add(&r.name.clone(), &r.span.clone(), r)?;
                }
                "vrrp_sync_group" => {
                    let g = self.sync_group(node)?;
                    groups.add(&g.0.name.clone(), &g.0.span.clone(), g)?;
                }
                _ => {
                    if !self.not_implemented(node, TOP_UNIMPLEMENTED) {
                        return Err(unknown_keyword(node, "the top level"));
                    }
                }
            }
        }
        let scripts = scripts.items;
        let instances = raw_instances
            .items
            .into_iter()
            .map(|raw| self.finish_instance(raw, &global, &scripts))
            .collect::<R<Vec<_>>>()?;
        checks::unique_vrids(&instances)?;
        let sync_groups = checks::sync_groups(groups.items, &instances)?;
        Ok(Config {
            global,
            scripts,
            instances,
            sync_groups,
        })
    }
}
