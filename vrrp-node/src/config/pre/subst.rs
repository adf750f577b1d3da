//! Parameter definitions and their substitution, as keepalived.conf(5) describes them under
//! "Parameter substitution" and "Pre-defined definitions".
//!
//! `$NAME=VALUE` defines (no blank before the `=`, the value may be empty, a final `\`
//! continues it on the next lines); later, `$NAME` followed by a blank, `,`, `)` or the line
//! end, and `${NAME}` anywhere, are replaced by the value. The value is substituted when
//! used, not when defined, and the replaced text is read again, so values may refer to other
//! parameters. An undefined name stays as written. A multi-line value replaces only a
//! reference that ends its line; its other lines follow as lines of their own.

use std::collections::HashMap;

use super::mapped::{is_blank, Mapped, Pos};
use super::{Context, Fail};
use crate::config::error::ParamProblem;

/// Longest line a substitution may make (keepalived cuts its lines at 1 KiB).
pub(crate) const MAX_LINE: usize = 16 * 1024;
/// Substitutions in one line, so that a definition that refers to itself stops.
pub(crate) const MAX_SUBSTITUTIONS: usize = 1024;

/// The parameters defined so far; they carry across `include`s, as in keepalived.
#[derive(Debug, Default)]
pub(crate) struct Defs {
    map: HashMap<String, Vec<String>>,
}

impl Defs {
    /// Defines (or redefines) `name` as `lines` (one line unless multi-line).
    pub(crate) fn set(&mut self, name: &str, lines: Vec<String>) {
        self.map.insert(name.to_string(), lines);
    }

    /// Adds a line to the multi-line definition `name`.
    pub(crate) fn push_line(&mut self, name: &str, line: String) {
        self.map.entry(name.to_string()).or_default().push(line);
    }

    /// Gives an empty multi-line definition the empty value.
    pub(crate) fn close(&mut self, name: &str) {
        let lines = self.map.entry(name.to_string()).or_default();
        if lines.is_empty() {
            lines.push(String::new());
        }
    }
}

pub(crate) fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What a line starting with `$` is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DefLine {
    /// `$NAME=VALUE`; `continued` when it ended with `\` (removed, with the blanks before it).
    Define {
        name: String,
        value: String,
        continued: bool,
    },
    /// A line that uses parameters.
    NotOne,
    /// A definition that is not one keepalived would take.
    Bad(ParamProblem),
}

/// Reads a line that may be a definition.
pub(crate) fn definition(text: &str) -> DefLine {
    let Some(body) = text.strip_prefix('$') else {
        return DefLine::NotOne;
    };
    if body.starts_with('{') {
        return DefLine::NotOne;
    }
    let name_len = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
    let (name, after) = body.split_at(name_len);
    let valid = name.starts_with(is_name_start);
    let first_word = text.split(is_blank).next().unwrap_or(text);
    if let Some(value) = after.strip_prefix('=') {
        if !valid {
            return DefLine::Bad(ParamProblem::BadName {
                found: first_word.to_string(),
            });
        }
        let value = value.trim_start_matches(is_blank);
        let (value, continued) = match value.strip_suffix('\\') {
            Some(v) => (v.trim_end_matches(is_blank), true),
            None => (value, false),
        };
        return DefLine::Define {
            name: name.to_string(),
            value: value.to_string(),
            continued,
        };
    }
    if valid && after.starts_with(is_blank) && after.trim_start_matches(is_blank).starts_with('=') {
        return DefLine::Bad(ParamProblem::BlankBeforeEquals {
            name: name.to_string(),
        });
    }
    if first_word.contains('=') {
        return DefLine::Bad(ParamProblem::BadName {
            found: first_word.to_string(),
        });
    }
    DefLine::NotOne
}

/// A reference found in a line.
#[derive(Debug, PartialEq, Eq)]
struct Ref {
    name: String,
    /// Byte offset just past it.
    end: usize,
    braced: bool,
    /// `${NAME DIGITS...}`, as keepalived's `${_RANDOM MIN MAX}`.
    params: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Reference {
    None,
    Unterminated(String),
    Found(Ref),
}

/// The reference starting with the `$` at byte `at`, if there is one.
fn reference(text: &str, at: usize) -> Reference {
    let rest = text.get(at + 1..).unwrap_or_default();
    let (braced, body) = match rest.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, rest),
    };
    if !body.starts_with(is_name_start) {
        return Reference::None;
    }
    let name_len = body.find(|c| !is_name_char(c)).unwrap_or(body.len());
    let (name, after) = body.split_at(name_len);
    let name_end = at + 1 + usize::from(braced) + name_len;
    let found = |end, params| {
        Reference::Found(Ref {
            name: name.to_string(),
            end,
            braced,
            params,
        })
    };
    if !braced {
        return match after.chars().next() {
            None | Some(' ' | '\t' | ',' | ')') => found(name_end, false),
            Some(_) => Reference::None,
        };
    }
    if after.starts_with('}') {
        return found(name_end + 1, false);
    }
    let params = after
        .find(|c: char| c != ' ' && !c.is_ascii_digit())
        .unwrap_or(after.len());
    if params > 0 && after[params..].starts_with('}') {
        return found(name_end + params + 1, true);
    }
    if !after.contains('}') {
        return Reference::Unterminated(name.to_string());
    }
    Reference::None
}

/// Whether byte `at` is inside double quotes, as the lexer reads them.
fn in_quotes(text: &str, at: usize) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for c in text.get(..at).unwrap_or_default().chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ => {}
        }
    }
    quoted
}

enum Lookup {
    Value(Vec<String>),
    Undefined,
    Unsupported,
}

/// The value of `name`: a definition, else a predefined one.
fn lookup(cx: &Context, name: &str, params: bool, pwd: &str) -> Lookup {
    let defined = cx.defs.map.get(name);
    if params {
        // keepalived takes parameters for ${_RANDOM} only.
        return match (name, defined) {
            ("_RANDOM", None) => Lookup::Unsupported,
            _ => Lookup::Undefined,
        };
    }
    if let Some(lines) = defined {
        return Lookup::Value(lines.clone());
    }
    let one = |s: &str| Lookup::Value(vec![s.to_string()]);
    match name {
        "_PWD" => one(pwd),
        "_INSTANCE" => one(cx.config_id.as_deref().unwrap_or_default()),
        "_HASH" => one("#"),
        "_BANG" => one("!"),
        "_RANDOM" => Lookup::Unsupported,
        _ => Lookup::Undefined,
    }
}

/// What one pass of [`substitute`] did.
#[derive(Debug, Default)]
pub(crate) struct Expansion {
    pub changed: bool,
    /// The further lines of each multi-line value used, in order, with the reference.
    pub rest: Vec<(Vec<String>, Pos)>,
    /// `${NAME}` references outside quotes with no definition.
    pub undefined: Vec<(String, Pos)>,
}

/// Replaces the references of `line`, reading each value again for references (`count`
/// substitutions so far on this line). `pwd` is the directory of the file read.
pub(crate) fn substitute(
    line: &mut Mapped,
    cx: &mut Context,
    pwd: &str,
    count: &mut usize,
) -> Result<Expansion, Fail> {
    let mut out = Expansion::default();
    let mut from = 0;
    while let Some(rel) = line.text().get(from..).and_then(|t| t.find('$')) {
        let at = from + rel;
        let r = match reference(line.text(), at) {
            Reference::None => {
                from = at + 1;
                continue;
            }
            Reference::Unterminated(name) => {
                return Err(Fail::Line(
                    line.pos_at(at),
                    ParamProblem::Unterminated { name },
                ))
            }
            Reference::Found(r) => r,
        };
        let pos = line.pos_at(at);
        let value = match lookup(cx, &r.name, r.params, pwd) {
            Lookup::Value(v) => v,
            Lookup::Unsupported => {
                return Err(Fail::Line(pos, ParamProblem::Unsupported { name: r.name }))
            }
            Lookup::Undefined => {
                if r.braced && !r.params && !in_quotes(line.text(), at) {
                    out.undefined.push((r.name, pos));
                }
                from = at + 1;
                continue;
            }
        };
        let (first, rest) = value
            .split_first()
            .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
        if !rest.is_empty() && r.end != line.len() {
            // keepalived expands a multi-line value only at the end of a line.
            from = at + 1;
            continue;
        }
        *count += 1;
        if *count > MAX_SUBSTITUTIONS {
            let limit = MAX_SUBSTITUTIONS;
            return Err(Fail::Line(
                pos,
                ParamProblem::TooManySubstitutions { limit },
            ));
        }
        let new_len = line.len() - (r.end - at) + first.len();
        if new_len > MAX_LINE && new_len > line.len() {
            let limit = MAX_LINE;
            return Err(Fail::Line(pos, ParamProblem::LineTooLong { limit }));
        }
        let added = first.len() + rest.iter().map(|l| l.len() + 1).sum::<usize>();
        cx.charge(added, pos)?;
        line.replace(at, r.end, first, pos);
        if !rest.is_empty() {
            out.rest.push((rest.to_vec(), pos));
        }
        out.changed = true;
        // As keepalived: a value that is a ~SEQ/~LST line is not substituted further
        // here; its variable gets its values when the sequence runs.
        if first.trim_start_matches(is_blank).starts_with('~') {
            break;
        }
        from = at;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, end: usize, braced: bool) -> Reference {
        Reference::Found(Ref {
            name: name.into(),
            end,
            braced,
            params: false,
        })
    }

    #[test]
    fn references_end_where_keepalived_ends_them() {
        assert_eq!(reference("$A b", 0), found("A", 2, false));
        assert_eq!(reference("x $A", 2), found("A", 4, false));
        assert_eq!(reference("$A,1", 0), found("A", 2, false));
        assert_eq!(reference("$A)", 0), found("A", 2, false));
        assert_eq!(
            reference("$A.x", 0),
            Reference::None,
            "needs a blank after it"
        );
        assert_eq!(reference("${A}.x", 0), found("A", 4, true));
        assert_eq!(reference("$1", 0), Reference::None);
        assert_eq!(reference("$", 0), Reference::None);
        assert_eq!(reference("${", 0), Reference::None);
        assert_eq!(reference("${A", 0), Reference::Unterminated("A".into()));
        assert_eq!(reference("${A:-x}", 0), Reference::None, "a shell's, left");
        assert!(matches!(
            reference("${_RANDOM 1 9}", 0),
            Reference::Found(Ref {
                params: true,
                end: 14,
                ..
            })
        ));
    }

    #[test]
    fn definitions_as_keepalived_reads_them() {
        let def = |name: &str, value: &str, continued| DefLine::Define {
            name: name.into(),
            value: value.into(),
            continued,
        };
        assert_eq!(definition("$A=1"), def("A", "1", false));
        assert_eq!(definition("$_a9=  x y"), def("_a9", "x y", false));
        assert_eq!(definition("$E="), def("E", "", false));
        assert_eq!(definition("$M=first  \\"), def("M", "first", true));
        assert_eq!(definition("$M=\\"), def("M", "", true));
        assert_eq!(definition("$A"), DefLine::NotOne);
        assert_eq!(definition("${A}=x"), DefLine::NotOne);
        assert_eq!(definition("$A b=c"), DefLine::NotOne);
        assert!(matches!(
            definition("$=x"),
            DefLine::Bad(ParamProblem::BadName { .. })
        ));
        assert!(matches!(
            definition("$1A=x"),
            DefLine::Bad(ParamProblem::BadName { .. })
        ));
        assert!(matches!(
            definition("$A-B=x"),
            DefLine::Bad(ParamProblem::BadName { .. })
        ));
        assert_eq!(
            definition("$A =x"),
            DefLine::Bad(ParamProblem::BlankBeforeEquals { name: "A".into() })
        );
    }

    #[test]
    fn quotes_as_the_lexer_reads_them() {
        assert!(in_quotes("a \"b ${X}", 5));
        assert!(!in_quotes("a \"b\" ${X}", 6));
        assert!(in_quotes("\"\\\" ${X}", 4));
    }
}
