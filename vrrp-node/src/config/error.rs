//! Errors and warnings of the keepalived.conf loader, each with the place it points at.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a configuration file: the file as it was named, and a 1-based line and column
/// (the column counts characters, not bytes). The default is [`Span::nowhere`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file, as given to [`load`](super::load) or named by an `include`.
    pub file: Arc<Path>,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Span {
    /// A span in `file` at `line`:`column`.
    pub fn new(file: Arc<Path>, line: u32, column: u32) -> Self {
        Span { file, line, column }
    }

    /// A span that points nowhere (empty file name, line 0), for values made in code.
    pub fn nowhere() -> Self {
        Span {
            file: Arc::from(Path::new("")),
            line: 0,
            column: 0,
        }
    }
}

impl Default for Span {
    fn default() -> Self {
        Span::nowhere()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why a configuration was rejected. Every variant but [`ConfigError::Io`] names the place
/// in the file; `Display` renders it as `file:line:col: message`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The top-level file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text does not tokenize or its braces do not balance.
    #[error("{span}: {message}")]
    Syntax {
        /// Where.
        span: Span,
        /// What is wrong, e.g. "unterminated quoted string".
        message: String,
    },
    /// A keyword's value is of the wrong form or out of range.
    #[error("{span}: expected {expected} for {keyword}, found \"{found}\"")]
    InvalidValue {
        /// The offending value.
        span: Span,
        /// The keyword it belongs to.
        keyword: String,
        /// What would have been accepted, e.g. "an integer 1..255".
        expected: String,
        /// The text found.
        found: String,
    },
    /// A keyword needs a value (or a block) that is not there.
    #[error("{span}: missing value for {keyword}: expected {expected}")]
    MissingValue {
        /// The keyword.
        span: Span,
        /// The keyword.
        keyword: String,
        /// What should follow it.
        expected: String,
    },
    /// More values than the keyword takes.
    #[error("{span}: unexpected argument \"{found}\" for {keyword}")]
    UnexpectedArgument {
        /// The extra argument.
        span: Span,
        /// The keyword.
        keyword: String,
        /// The extra text.
        found: String,
    },
    /// A keyword keepalived does not know either (a typo, most likely).
    #[error("{span}: unknown keyword \"{keyword}\" in {context}")]
    UnknownKeyword {
        /// The keyword.
        span: Span,
        /// The keyword.
        keyword: String,
        /// The enclosing block, e.g. "vrrp_instance VI_1" or "the top level".
        context: String,
    },
    /// Values that are each well-formed but do not fit together (duplicate names, a v2
    /// instance with IPv6 addresses, a reference to an unknown script, strict-mode violations).
    #[error("{span}: {message}")]
    Invalid {
        /// The item at fault.
        span: Span,
        /// What is wrong.
        message: String,
    },
    /// Blocks nested deeper than the parser allows (keepalived's own grammar needs 3).
    #[error("{span}: blocks nested deeper than {limit} levels")]
    TooDeep {
        /// The brace that went one level too deep.
        span: Span,
        /// The limit.
        limit: usize,
    },
    /// An `include` that cannot be followed.
    #[error("{span}: include \"{pattern}\": {message}")]
    Include {
        /// The `include` line.
        span: Span,
        /// The pattern as written.
        pattern: String,
        /// What went wrong.
        message: String,
    },
    /// A parameter definition, reference, `~SEQ` or `~LST` line that cannot be used
    /// (keepalived.conf(5), "Parameter substitution", "Sequence blocks", "List blocks").
    #[error("{span}: {problem}")]
    Parameter {
        /// The definition, the reference or the `~SEQ`/`~LST`.
        span: Span,
        /// What is wrong.
        problem: ParamProblem,
    },
}

/// What is wrong with a [`ConfigError::Parameter`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamProblem {
    /// `$NAME=value` where NAME is not letters, digits and `_` starting with a letter or `_`.
    #[error("\"{found}\" is not a parameter definition: a name is letters, digits and _, not starting with a digit")]
    BadName {
        /// The definition's first word.
        found: String,
    },
    /// `$NAME =value`: keepalived allows no blank before the `=`.
    #[error("no blank is allowed between ${name} and \"=\" in a definition")]
    BlankBeforeEquals {
        /// The name.
        name: String,
    },
    /// `${NAME` with no `}` after it on the line.
    #[error("\"${{{name}\" is not closed by \"}}\"")]
    Unterminated {
        /// The name.
        name: String,
    },
    /// More substitutions in one line than allowed: a definition that refers to itself.
    #[error("more than {limit} substitutions in one line (does a definition refer to itself?)")]
    TooManySubstitutions {
        /// The limit.
        limit: usize,
    },
    /// A substitution would make the line longer than allowed.
    #[error("substitution makes the line longer than {limit} bytes")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// The expansions of the configuration (copies of `~SEQ`/`~LST` lines and multi-line
    /// definitions, substituted values) would produce more text than allowed.
    #[error("expanding definitions and sequences makes more than {limit} bytes of configuration")]
    ExpansionTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A predefined parameter keepalived has and this implementation does not.
    #[error("${{{name}}} is not supported")]
    Unsupported {
        /// The name, e.g. `_RANDOM`.
        name: String,
    },
    /// A `~SEQ` or `~LST` line that cannot be read.
    #[error("invalid {what}: {reason}")]
    BadRepeat {
        /// `~SEQ`, `~SEQx` or `~LST`.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl ConfigError {
    /// The place the error points at, if it has one.
    pub fn span(&self) -> Option<&Span> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { span, .. }
            | ConfigError::InvalidValue { span, .. }
            | ConfigError::MissingValue { span, .. }
            | ConfigError::UnexpectedArgument { span, .. }
            | ConfigError::UnknownKeyword { span, .. }
            | ConfigError::Invalid { span, .. }
            | ConfigError::TooDeep { span, .. }
            | ConfigError::Include { span, .. }
            | ConfigError::Parameter { span, .. } => Some(span),
        }
    }
}

/// Every error of a configuration that did not load, in file order: by file, in the order
/// the files were read (the top file first), then by line and column. Never empty. keepalived reports every bad line of a file in one run, not only the first.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.first, .rest))]
pub struct ConfigErrors {
    first: ConfigError,
    rest: Vec<ConfigError>,
}

impl ConfigErrors {
    /// The errors of `list`, in its order; `None` when it is empty.
    pub fn from_vec(list: Vec<ConfigError>) -> Option<ConfigErrors> {
        let mut list = list.into_iter();
        let first = list.next()?;
        Some(ConfigErrors {
            first,
            rest: list.collect(),
        })
    }

    /// The first error in file order.
    pub fn first(&self) -> &ConfigError {
        &self.first
    }

    /// The first error in file order, the others dropped.
    pub fn into_first(self) -> ConfigError {
        self.first
    }

    /// How many errors there are (at least one).
    pub fn count(&self) -> usize {
        1 + self.rest.len()
    }

    /// Every error, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(&self.first).chain(&self.rest)
    }
}

impl From<ConfigError> for ConfigErrors {
    fn from(first: ConfigError) -> Self {
        ConfigErrors {
            first,
            rest: Vec::new(),
        }
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::iter::Chain<std::iter::Once<ConfigError>, std::vec::IntoIter<ConfigError>>;

    fn into_iter(self) -> Self::IntoIter {
        std::iter::once(self.first).chain(self.rest)
    }
}

/// One error a line.
fn render(first: &ConfigError, rest: &[ConfigError]) -> String {
    let mut out = first.to_string();
    for e in rest {
        out.push('\n');
        out.push_str(&e.to_string());
    }
    out
}

/// Puts `errors` in file order: those without a place first, then by the position of their
/// file in `files` (the files in the order they were read), line and column; errors at one
/// place keep the order they were found in.
pub(crate) fn sort_in_file_order(errors: &mut [ConfigError], files: &[Arc<Path>]) {
    errors.sort_by_key(|e| {
        e.span().map(|s| {
            let file = files
                .iter()
                .position(|f| *f == s.file)
                .unwrap_or(usize::MAX);
            (file, s.line, s.column)
        })
    });
}

/// What a [`Warning`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// A keepalived keyword this implementation accepts but does not act on; a block
    /// keyword's whole block is skipped.
    NotImplemented,
    /// A value was adjusted the way keepalived adjusts it (e.g. `auth_pass` cut to 8
    /// characters, or an IPv6 instance moved to version 3).
    Adjusted,
    /// A setting that has no effect in its context (e.g. `nopreempt` with `state MASTER`).
    Ignored,
    /// An `include` whose pattern matched no file.
    IncludeMatchedNothing,
    /// A `${NAME}` outside quotes with no such definition: left as written, as keepalived
    /// leaves it.
    UndefinedParameter,
}

/// A problem that does not stop the configuration from loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub span: Span,
    /// The keyword concerned.
    pub keyword: String,
    /// What kind of warning.
    pub kind: WarningKind,
    /// A human-readable explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.span, self.keyword, self.message)
    }
}
