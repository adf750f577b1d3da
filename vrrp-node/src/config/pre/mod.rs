//! keepalived's line preprocessing, before any keyword is read (keepalived.conf(5),
//! "ADVANCED CONFIGURATION"): conditional lines (`@ID`, `@^ID`), parameter definitions and
//! substitution (`$NAME=`, `$NAME`, `${NAME}`), and repeated lines (`~SEQ`, `~LST`).
//!
//! Each file line loses its comment and surrounding blanks first (so a `#` that a value
//! brings in is text, as keepalived's `${_HASH}`), then, in keepalived's order: a line
//! starting `@ID ` is kept without the prefix when ID is the config id (`@^ID `: when it is
//! not), else dropped; a `$NAME=` line defines; a `~SEQ`/`~LST` line is repeated; every other
//! line has its references replaced, and is looked at again when that changed it (a value
//! may bring a `@ID` or a definition). The condition is per line, also on a line that opens
//! or closes a block: it does not make a whole block conditional.
//!
//! Definitions carry across `include`s; pending copies and multi-line definitions being read
//! belong to their file. Expansion is bounded (see [`MAX_EXPANSION`], [`subst::MAX_LINE`],
//! [`subst::MAX_SUBSTITUTIONS`]), so that a definition that refers to itself or grows
//! exponentially is an error, not a hang.

mod mapped;
mod repeat;
mod subst;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{ConfigError, ParamProblem, Span, Warning, WarningKind};
pub(crate) use mapped::{is_blank, Mapped, Pos};
use repeat::Repeat;
use subst::{definition, substitute, DefLine, Defs};

/// Most text all expansions of one configuration may produce, in bytes: copies of
/// `~SEQ`/`~LST` lines and of multi-line definitions, and what substitutions add.
pub(crate) const MAX_EXPANSION: usize = 4 << 20;

/// Why a line could not be preprocessed: the line is dropped (`Line`), or the reading of
/// the file stops (`Fatal`: the expansion limit is reached).
#[derive(Debug)]
pub(crate) enum Fail {
    Line(Pos, ParamProblem),
    Fatal(Pos, ParamProblem),
}

/// What preprocessing keeps across the files of one configuration.
#[derive(Debug)]
pub(crate) struct Context {
    /// keepalived's config id (`-i`); `None`: every `@ID` line is dropped, every `@^ID` kept.
    pub config_id: Option<String>,
    pub defs: Defs,
    /// Bytes expansions may still produce.
    budget: usize,
    /// Lines dropped for an error; the reading went on.
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<Warning>,
}

impl Context {
    pub(crate) fn new(config_id: Option<String>) -> Self {
        Context {
            config_id: config_id.filter(|id| !id.is_empty()),
            defs: Defs::default(),
            budget: MAX_EXPANSION,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Takes `bytes` of expansion from what is left.
    pub(crate) fn charge(&mut self, bytes: usize, at: Pos) -> Result<(), Fail> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => {
                self.budget = 0;
                let limit = MAX_EXPANSION;
                Err(Fail::Fatal(at, ParamProblem::ExpansionTooLarge { limit }))
            }
        }
    }
}

/// A line the lexer gets: its text and where its end is.
#[derive(Debug)]
pub(crate) struct OutLine {
    pub text: Mapped,
    pub eol: Pos,
}

/// A line waiting to be read.
#[derive(Debug)]
enum Pending {
    /// A further line of a multi-line value, with the reference that brought it.
    Line(Mapped, Pos),
    /// A `~SEQ`/`~LST` line with copies left to make, with the end of its line.
    Repeat(Repeat, Pos),
}

/// A line to look at.
struct Source {
    text: Mapped,
    eol: Pos,
    /// A file line with nothing at all on it (it ends a multi-line definition).
    empty_in_file: bool,
}

/// The preprocessor of one file: file lines in, lexer lines out.
#[derive(Debug)]
pub(crate) struct Preprocessor<'t> {
    file: Arc<Path>,
    /// `${_PWD}`: the directory of the file.
    pwd: String,
    lines: std::iter::Enumerate<std::str::Split<'t, char>>,
    /// Lines to read before the next file line, the next one last.
    pending: Vec<Pending>,
    /// The multi-line definition being read.
    open_def: Option<String>,
}

impl<'t> Preprocessor<'t> {
    pub(crate) fn new(text: &'t str, file: Arc<Path>) -> Self {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = std::fs::canonicalize(&dir)
            .or_else(|_| std::path::absolute(&dir))
            .unwrap_or(dir);
        Preprocessor {
            file,
            pwd: dir.to_string_lossy().into_owned(),
            lines: text.split('\n').enumerate(),
            pending: Vec::new(),
            open_def: None,
        }
    }

    fn error(&self, at: Pos, problem: ParamProblem) -> ConfigError {
        ConfigError::Parameter {
            span: Span::new(self.file.clone(), at.line, at.column),
            problem,
        }
    }

    /// The next line for the lexer; `Err` ends the file. Lines in error are reported in
    /// `cx.errors` and skipped.
    pub(crate) fn next_line(&mut self, cx: &mut Context) -> Result<Option<OutLine>, ConfigError> {
        loop {
            let src = match self.next_source(cx) {
                Ok(Some(src)) => src,
                Ok(None) => {
                    if let Some(name) = self.open_def.take() {
                        cx.defs.close(&name);
                    }
                    return Ok(None);
                }
                Err(fail) => return Err(self.fail(fail)),
            };
            if let Some(name) = self.open_def.clone() {
                self.continue_definition(&name, &src, cx);
                continue;
            }
            if src.text.len() == 0 {
                continue;
            }
            match self.process(src.text, src.eol, cx) {
                Ok(Some(out)) => return Ok(Some(out)),
                Ok(None) => {}
                Err(fail @ Fail::Line(..)) => cx.errors.push(self.fail(fail)),
                Err(fail @ Fail::Fatal(..)) => return Err(self.fail(fail)),
            }
        }
    }

    fn fail(&self, fail: Fail) -> ConfigError {
        match fail {
            Fail::Line(at, p) | Fail::Fatal(at, p) => self.error(at, p),
        }
    }

    /// The next line to look at: a pending one, else the next file line.
    fn next_source(&mut self, cx: &mut Context) -> Result<Option<Source>, Fail> {
        loop {
            match self.pending.pop() {
                Some(Pending::Line(text, at)) => {
                    return Ok(Some(Source {
                        text,
                        eol: at,
                        empty_in_file: false,
                    }))
                }
                Some(Pending::Repeat(mut r, eol)) => {
                    let Some(values) = r.next_values() else {
                        continue;
                    };
                    for (var, value) in values {
                        cx.defs.set(&var, vec![value]);
                    }
                    let text = r.text.clone();
                    cx.charge(text.len() + 1, text.pos_at(0))?;
                    // Back first: what this copy brings is read before the next copy.
                    self.pending.push(Pending::Repeat(r, eol));
                    return Ok(Some(Source {
                        text,
                        eol,
                        empty_in_file: false,
                    }));
                }
                None => {
                    let Some((i, raw)) = self.lines.next() else {
                        return Ok(None);
                    };
                    let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    let chars = u32::try_from(raw.chars().count()).unwrap_or(u32::MAX);
                    return Ok(Some(Source {
                        text: mapped::decomment(raw, line),
                        eol: Pos::new(line, chars.saturating_add(1)),
                        empty_in_file: raw.trim_end_matches('\r').is_empty(),
                    }));
                }
            }
        }
    }

    /// A line of the multi-line definition `name`: each line ending with `\` continues it
    /// (the `\` and the blanks before it removed); an empty line ends it, a line with only a
    /// comment or blanks is skipped (as keepalived 2.2.7 does).
    fn continue_definition(&mut self, name: &str, src: &Source, cx: &mut Context) {
        if src.empty_in_file {
            cx.defs.close(name);
            self.open_def = None;
            return;
        }
        let text = src.text.text();
        if text.is_empty() {
            return;
        }
        match text.strip_suffix('\\') {
            Some(part) => {
                let part = part.trim_end_matches(is_blank);
                if !part.is_empty() {
                    cx.defs.push_line(name, part.to_string());
                }
            }
            None => {
                cx.defs.push_line(name, text.to_string());
                cx.defs.close(name);
                self.open_def = None;
            }
        }
    }

    /// Conditions, definitions, repeats and substitution on one line, as keepalived's
    /// `read_line` does them; `None` when nothing is left for the lexer.
    fn process(
        &mut self,
        mut line: Mapped,
        eol: Pos,
        cx: &mut Context,
    ) -> Result<Option<OutLine>, Fail> {
        let mut count = 0;
        loop {
            if line.text().starts_with('@') {
                match condition(line.text(), cx.config_id.as_deref()) {
                    Some(rest) => line = line.slice(rest, line.len()),
                    None => return Ok(None),
                }
            }
            match definition(line.text()) {
                DefLine::Define {
                    name,
                    value,
                    continued,
                } => {
                    if continued {
                        let first = (!value.is_empty()).then_some(value);
                        cx.defs.set(&name, first.into_iter().collect());
                        self.open_def = Some(name);
                    } else {
                        cx.defs.set(&name, vec![value]);
                    }
                    return Ok(None);
                }
                DefLine::Bad(problem) => return Err(Fail::Line(line.pos_at(0), problem)),
                DefLine::NotOne => {}
            }
            if line.text().starts_with("~SEQ") || line.text().starts_with("~LST") {
                let r = self.repeat(&line, cx, &mut count)?;
                self.pending.push(Pending::Repeat(r, eol));
                return Ok(None);
            }
            // keepalived leaves any other line starting with ~ alone.
            if line.text().starts_with('~') {
                break;
            }
            let expansion = substitute(&mut line, cx, &self.pwd, &mut count)?;
            for (lines, at) in expansion.rest {
                self.pending.extend(
                    lines
                        .iter()
                        .rev()
                        .map(|l| Pending::Line(Mapped::expanded(l, at), at)),
                );
            }
            if !expansion.changed {
                for (name, at) in expansion.undefined {
                    self.warn_undefined(&name, at, cx);
                }
                break;
            }
        }
        Ok(Some(OutLine { text: line, eol }))
    }

    /// Reads a `~SEQ`/`~LST` line, its arguments substituted.
    fn repeat(&self, line: &Mapped, cx: &mut Context, count: &mut usize) -> Result<Repeat, Fail> {
        let pwd = &self.pwd;
        let mut args_of = |args: &Mapped| {
            let mut args = args.clone();
            let expansion = substitute(&mut args, cx, pwd, count)?;
            if let Some((_, at)) = expansion.rest.first() {
                let reason = "a multi-line definition cannot be a value".to_string();
                let what = "~SEQ or ~LST";
                return Err(Fail::Line(*at, ParamProblem::BadRepeat { what, reason }));
            }
            Ok(args.text().to_string())
        };
        let r = repeat::repeat(line, &mut args_of)?;
        // Refused at once when the copies alone would pass the limit.
        let size = r.remaining().saturating_mul(r.text.len() as u128 + 1);
        if size > cx.budget as u128 {
            let limit = MAX_EXPANSION;
            return Err(Fail::Line(
                line.pos_at(0),
                ParamProblem::ExpansionTooLarge { limit },
            ));
        }
        Ok(r)
    }

    fn warn_undefined(&self, name: &str, at: Pos, cx: &mut Context) {
        cx.warnings.push(Warning {
            span: Span::new(self.file.clone(), at.line, at.column),
            keyword: format!("${{{name}}}"),
            kind: WarningKind::UndefinedParameter,
            message: "no such definition: left as written, as keepalived does".into(),
        });
    }
}

/// keepalived.conf(5), "Conditional configuration": `@ID rest` is kept when ID is the
/// config id, `@^ID rest` when it is not. The ID is everything up to the first space or
/// tab, compared whole (one id, case-sensitive); a line with nothing after it is dropped.
/// The offset of the rest of the line when it is kept.
fn condition(text: &str, config_id: Option<&str>) -> Option<usize> {
    let (negated, start) = if text.starts_with("@^") {
        (true, 2)
    } else {
        (false, 1)
    };
    let body = text.get(start..)?;
    let id_len = body.find([' ', '\t'])?;
    if (config_id == Some(&body[..id_len])) == negated {
        return None;
    }
    let rest = &body[id_len..];
    Some(start + id_len + (rest.len() - rest.trim_start_matches([' ', '\t']).len()))
}
