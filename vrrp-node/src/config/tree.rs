//! From tokens to a tree of statements (`keyword args... [{ children }]`), with `include`
//! expanded in place the way keepalived does it: anywhere, relative to the including file's
//! directory, each glob pattern's matches in sorted order. Lines are preprocessed and
//! lexed as the parser reaches them, so that the definitions an included file makes or sees
//! are those before its `include` line, as in keepalived.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{ConfigError, Span, Warning, WarningKind};
use super::lexer::{lex_line, TokKind, Token};
use super::pre::{Context, Preprocessor};

/// Deepest block nesting accepted. keepalived's grammar needs 3 (e.g. `virtual_server {
/// real_server { HTTP_GET {` ... ) plus a few for skipped blocks; the limit keeps recursion
/// bounded on hostile input.
pub(crate) const MAX_DEPTH: usize = 16;
/// Deepest chain of `include`s followed.
pub(crate) const MAX_INCLUDE_DEPTH: usize = 8;
/// Most files read for one configuration, against include fan-out bombs.
pub(crate) const MAX_FILES: usize = 256;

/// A word on a statement line.
#[derive(Debug, Clone)]
pub(crate) struct Word {
    pub text: String,
    /// Was it written in double quotes?
    pub quoted: bool,
    pub span: Span,
}

/// One statement: a keyword, its values, and its block if it has one.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: Word,
    pub args: Vec<Word>,
    pub block: Option<Vec<Node>>,
}

/// Reads files and keeps what include processing needs across files.
pub(crate) struct Loader {
    pub warnings: Vec<Warning>,
    /// Errors the reading went on after (an `include` that cannot be followed).
    pub errors: Vec<ConfigError>,
    /// The files read, in order, for sorting errors in file order.
    pub files: Vec<Arc<Path>>,
    files_read: usize,
    /// Files on the current include chain, to refuse cycles.
    stack: Vec<PathBuf>,
    /// Definitions and config id, shared by every file.
    pub pre: Context,
}

impl Loader {
    /// A loader for keepalived's config id `config_id` (see [`Context::config_id`]).
    pub(crate) fn new(config_id: Option<String>) -> Self {
        Loader {
            warnings: Vec::new(),
            errors: Vec::new(),
            files: Vec::new(),
            files_read: 0,
            stack: Vec::new(),
            pre: Context::new(config_id),
        }
    }

    /// Parses `text`, which is the content of `name`.
    pub(crate) fn parse_text(&mut self, text: &str, name: &Path) -> Result<Vec<Node>, ConfigError> {
        let key = std::fs::canonicalize(name).unwrap_or_else(|_| name.to_path_buf());
        self.parse_file(text, name, key, 0)
    }

    /// Parses the text of file `name` (`key`, its canonical path) at nesting depth `depth`,
    /// with the file on the include chain while it is read. Blocks must balance within each
    /// file, as in keepalived; the nesting depth carries on into included files.
    fn parse_file(
        &mut self,
        text: &str,
        name: &Path,
        key: PathBuf,
        depth: usize,
    ) -> Result<Vec<Node>, ConfigError> {
        let file: Arc<Path> = Arc::from(name);
        self.files.push(Arc::clone(&file));
        self.files_read += 1;
        self.stack.push(key);
        let mut parser = TreeParser {
            stream: TokenStream::new(text, file),
            dir: name.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let result = parser.items(self, depth, None);
        self.stack.pop();
        // A line that does not lex ends the file: its error, not what the parser made of
        // the tokens before it.
        match parser.stream.fatal.take() {
            Some(e) => Err(e),
            None => result,
        }
    }

    fn include(&mut self, node: &Node, dir: &Path, depth: usize) -> Result<Vec<Node>, ConfigError> {
        let span = node.name.span.clone();
        let pattern = include_pattern(node)?;
        let fail = |message: String| ConfigError::Include {
            span: span.clone(),
            pattern: pattern.to_string(),
            message,
        };
        if node.block.is_some() {
            return Err(fail("include takes no block".into()));
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(fail(format!(
                "includes nested deeper than {MAX_INCLUDE_DEPTH} files"
            )));
        }
        let files = matching_files(pattern, dir).map_err(fail)?;
        if files.is_empty() {
            self.warnings.push(Warning {
                span: span.clone(),
                keyword: "include".into(),
                kind: WarningKind::IncludeMatchedNothing,
                message: format!("\"{pattern}\" matched no file"),
            });
        }
        let mut nodes = Vec::new();
        for path in files {
            if self.files_read >= MAX_FILES {
                return Err(fail(format!("more than {MAX_FILES} files included")));
            }
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if self.stack.contains(&key) {
                return Err(fail(format!(
                    "include cycle: {} is already being read",
                    path.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default()
                )));
            }
            let bytes =
                std::fs::read(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
            let text = decode(&bytes, &path)?;
            nodes.extend(self.parse_file(&text, &path, key, depth)?);
        }
        Ok(nodes)
    }
}

/// The one argument of an `include` line.
fn include_pattern(node: &Node) -> Result<&str, ConfigError> {
    match node.args.as_slice() {
        [p] => Ok(&p.text),
        [] => Err(ConfigError::MissingValue {
            span: node.name.span.clone(),
            keyword: "include".into(),
            expected: "a file name or glob pattern".into(),
        }),
        [_, extra, ..] => Err(ConfigError::UnexpectedArgument {
            span: extra.span.clone(),
            keyword: "include".into(),
            found: extra.text.clone(),
        }),
    }
}

/// The files `pattern` (a glob, relative to `dir` unless absolute) matches, in order.
fn matching_files(pattern: &str, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let full_str = full.to_string_lossy().into_owned();
    let paths = glob::glob(&full_str).map_err(|e| format!("bad pattern: {e}"))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| e.to_string())?;
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// UTF-8 text of a file, or an error naming the line where it stops being UTF-8.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<String, ConfigError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
            Err(ConfigError::Syntax {
                span: Span::new(
                    Arc::from(path),
                    u32::try_from(line).unwrap_or(u32::MAX),
                    u32::try_from(column).unwrap_or(u32::MAX),
                ),
                message: "text is not valid UTF-8".into(),
            })
        }
    }
}

/// The tokens of one file, made a line at a time as the parser asks for them.
struct TokenStream<'t> {
    pre: Preprocessor<'t>,
    file: Arc<Path>,
    buf: VecDeque<Token>,
    done: bool,
    /// The error that ended the file early.
    fatal: Option<ConfigError>,
}

impl<'t> TokenStream<'t> {
    fn new(text: &'t str, file: Arc<Path>) -> Self {
        TokenStream {
            pre: Preprocessor::new(text, Arc::clone(&file)),
            file,
            buf: VecDeque::new(),
            done: false,
            fatal: None,
        }
    }

    /// The token `ahead` places on, reading lines as needed.
    fn peek_at(&mut self, ahead: usize, loader: &mut Loader) -> Option<&Token> {
        while self.buf.len() <= ahead && !self.done {
            let mut tokens = Vec::new();
            let line = self.pre.next_line(&mut loader.pre).and_then(|line| {
                line.map(|l| lex_line(&l, &self.file, &mut tokens))
                    .transpose()
            });
            match line {
                Ok(Some(())) => self.buf.extend(tokens),
                Ok(None) => self.done = true,
                Err(e) => {
                    self.fatal = Some(e);
                    self.done = true;
                }
            }
        }
        self.buf.get(ahead)
    }

    fn peek(&mut self, loader: &mut Loader) -> Option<&Token> {
        self.peek_at(0, loader)
    }

    fn bump(&mut self, n: usize) {
        self.buf.drain(..n.min(self.buf.len()));
    }
}

struct TreeParser<'t> {
    stream: TokenStream<'t>,
    dir: PathBuf,
}

impl TreeParser<'_> {
    /// Statements until the end of the file (`open` is `None`) or the `}` closing the block
    /// opened at `open`.
    fn items(
        &mut self,
        loader: &mut Loader,
        depth: usize,
        open: Option<&Span>,
    ) -> Result<Vec<Node>, ConfigError> {
        let mut nodes = Vec::new();
        loop {
            let Some(tok) = self.stream.peek(loader) else {
                return match open {
                    None => Ok(nodes),
                    Some(span) => Err(ConfigError::Syntax {
                        span: span.clone(),
                        message: "this \"{\" is never closed".into(),
                    }),
                };
            };
            match tok.kind {
                TokKind::Newline => self.stream.bump(1),
                TokKind::Close => {
                    if open.is_none() {
                        return Err(ConfigError::Syntax {
                            span: tok.span.clone(),
                            message: "unexpected \"}\" with no open block".into(),
                        });
                    }
                    self.stream.bump(1);
                    return Ok(nodes);
                }
                TokKind::Open => {
                    return Err(ConfigError::Syntax {
                        span: tok.span.clone(),
                        message: "expected a keyword before \"{\"".into(),
                    })
                }
                TokKind::Word | TokKind::Quoted => {
                    let node = self.statement(loader, depth)?;
                    if is_include(&node.name) {
                        // Blocks balance within each file, so the reading goes on after a
                        // bad include; its error is reported with the others.
                        let dir = self.dir.clone();
                        match loader.include(&node, &dir, depth) {
                            Ok(included) => nodes.extend(included),
                            Err(e) => loader.errors.push(e),
                        }
                    } else {
                        nodes.push(node);
                    }
                }
            }
        }
    }

    fn word(tok: &Token) -> Word {
        Word {
            text: tok.text.clone(),
            quoted: tok.kind == TokKind::Quoted,
            span: tok.span.clone(),
        }
    }

    fn statement(&mut self, loader: &mut Loader, depth: usize) -> Result<Node, ConfigError> {
        let Some(first) = self.stream.peek(loader) else {
            return Err(ConfigError::Syntax {
                span: Span::nowhere(),
                message: "unexpected end of input".into(),
            });
        };
        let name = Self::word(first);
        self.stream.bump(1);
        let mut args = Vec::new();
        while let Some(tok) = self.stream.peek(loader) {
            match tok.kind {
                TokKind::Word | TokKind::Quoted => {
                    args.push(Self::word(tok));
                    self.stream.bump(1);
                }
                _ => break,
            }
        }
        // A block may open on the same line or, keepalived allows, on a following line. Not
        // for an include, whose file is read before the lines after it.
        let mut look = 0;
        while !is_include(&name)
            && self
                .stream
                .peek_at(look, loader)
                .is_some_and(|t| t.kind == TokKind::Newline)
        {
            look += 1;
        }
        let block = match self.stream.peek_at(look, loader) {
            Some(t) if t.kind == TokKind::Open => {
                let open = t.span.clone();
                if depth + 1 > MAX_DEPTH {
                    return Err(ConfigError::TooDeep {
                        span: open,
                        limit: MAX_DEPTH,
                    });
                }
                self.stream.bump(look + 1);
                Some(self.items(loader, depth + 1, Some(&open))?)
            }
            _ => None,
        };
        Ok(Node { name, args, block })
    }
}

/// An unquoted `include`.
fn is_include(name: &Word) -> bool {
    name.text == "include" && !name.quoted
}
