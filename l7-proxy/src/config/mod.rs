//! haproxy.cfg → typed configuration.
//!
//! The parser reads HAProxy's syntax (sections `global`, `defaults`, `frontend`, `backend`,
//! `listen`), applies `defaults` inheritance, resolves server host names (at load time, as
//! HAProxy does) and checks references. Every problem is a [`Diagnostic`] with file, line and
//! column. Keywords HAProxy knows whose absence is harmless are warnings naming the keyword;
//! keywords that guard something (TLS settings, ACLs, access rules, authentication) are
//! honoured or refused; unknown words and bad values are errors.
//!
//! Files: `lex` (words), `parse` (sections), `global`, `proxy`, `settings`, `bind`,
//! `server`, `acl`, `rules`, `sample`, `tls` (each kind of line), `keywords` (the tables
//! of what is supported, warned and refused, which the dispatchers check), `validate` (whole-file checks and assembly), `model` (the types).

pub mod acl;
mod bind;
mod global;
mod keywords;
mod lex;
mod model;
mod parse;
mod proxy;
pub mod rules;
pub mod sample;
mod server;
mod settings;
pub mod tls;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use acl::{Acl, Condition, IpNet, Match, Patterns, Term};
pub use keywords::{keyword_reference, Keyword, KeywordContext, KeywordStatus};
pub use lex::{split_line, Word};
pub use model::*;
pub use rules::{HttpAction, HttpRule, Redirect, RedirectKind, Reply, ReplyBody, Service};
pub use sample::{Converter, Expr, Fetch, FormatPart, LogFormat};
pub use tls::{BindTls, ClientVerify, GlobalTls, ServerSni, ServerTls, TlsParams, TlsVersion};

/// Severity of a [`Diagnostic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The file loads; something is ignored or approximated.
    Warning,
    /// The file does not load.
    Error,
}

/// A problem found in a configuration file, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Warning or error.
    pub severity: Severity,
    /// File name as given.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, sev, self.message
        )
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration has errors (warnings found on the way are included).
    #[error("{}", render(.diagnostics))]
    Invalid {
        /// All diagnostics, errors and warnings, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

fn render(d: &[Diagnostic]) -> String {
    let errors = d.iter().filter(|d| d.severity == Severity::Error).count();
    let mut s = format!("configuration has {errors} error(s)");
    for d in d {
        s.push('\n');
        s.push_str(&d.to_string());
    }
    s
}

/// A loaded configuration and the warnings found while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Warnings (unsupported keywords and the like).
    pub warnings: Vec<Diagnostic>,
}

/// Reads and parses the files in order (like several `-f` options to HAProxy).
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<Loaded, ConfigError> {
    let mut sources = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
            path: p.to_path_buf(),
            source,
        })?;
        sources.push((p.display().to_string(), text));
    }
    let refs: Vec<(&str, &str)> = sources
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    parse_sources(&refs)
}

/// Parses configuration text; `name` is used in diagnostics.
pub fn parse_str(name: &str, text: &str) -> Result<Loaded, ConfigError> {
    parse_sources(&[(name, text)])
}

/// Parses several (name, text) sources as one configuration.
pub fn parse_sources(sources: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    parse_sources_with(sources, true)
}

/// Like [`parse_str`] but without DNS: server host names that are not IP literals get the
/// unspecified address (for fuzzing and syntax-only checks).
pub fn parse_str_offline(name: &str, text: &str) -> Result<Loaded, ConfigError> {
    parse_sources_with(&[(name, text)], false)
}

fn parse_sources_with(sources: &[(&str, &str)], resolve: bool) -> Result<Loaded, ConfigError> {
    let mut p = parse::Parser::new(resolve);
    for (name, text) in sources {
        p.parse_file(name, text);
    }
    p.finish()
}
