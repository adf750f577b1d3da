//! keepalived.conf tokens: words, quoted strings, braces and line ends.
//!
//! keepalived's grammar is line-based (a keyword and its values share a line), so line ends
//! are tokens. The lexer reads the lines the preprocessor ([`super::pre`]) hands on, which
//! have lost their comments already (so a `#` a definition brings in is text). Each line is
//! a loop over small nom parsers, so input size never grows the stack.

use std::path::Path;
use std::sync::Arc;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, none_of};
use nom::combinator::{map, value};
use nom::IResult;
use nom::Parser;

use super::error::{ConfigError, Span};
use super::pre::OutLine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    Word,
    Quoted,
    Open,
    Close,
    Newline,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub text: String,
    pub span: Span,
}

/// What one step of the lexer found.
#[derive(Debug, Clone)]
enum Lexeme<'a> {
    Skip,
    Open,
    Close,
    Word(&'a str),
    /// A quoted string, still escaped; `None` when the closing quote is missing.
    Quoted(Option<&'a str>),
}

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '{' | '}' | '"'))
}

fn blanks(i: &str) -> IResult<&str, Lexeme<'_>> {
    value(Lexeme::Skip, take_while1(|c: char| c.is_whitespace())).parse(i)
}

/// The body of a quoted string up to (not including) the closing quote; `\"` and `\\` are
/// escapes, so the body is returned raw and unescaped by [`unescape`].
fn quoted(i: &str) -> IResult<&str, Lexeme<'_>> {
    let (rest, _) = char('"')(i)?;
    let mut escaped = false;
    for (idx, c) in rest.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Ok((&rest[idx + 1..], Lexeme::Quoted(Some(&rest[..idx])))),
            _ => escaped = false,
        }
    }
    Ok(("", Lexeme::Quoted(None)))
}

fn lexeme(i: &str) -> IResult<&str, Lexeme<'_>> {
    alt((
        blanks,
        value(Lexeme::Open, tag("{")),
        value(Lexeme::Close, tag("}")),
        quoted,
        map(take_while1(is_word_char), Lexeme::Word),
        // Anything else would be a lexer bug; consume one char so the loop always advances.
        value(Lexeme::Skip, none_of("")),
    ))
    .parse(i)
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends the tokens of `line` to `tokens`, then its line end; `file` names it in spans.
pub(crate) fn lex_line(
    line: &OutLine,
    file: &Arc<Path>,
    tokens: &mut Vec<Token>,
) -> Result<(), ConfigError> {
    let text = line.text.text();
    let mut places = line.text.cursor();
    let mut rest = text;
    while !rest.is_empty() {
        let offset = text.len() - rest.len();
        let at = places.pos(offset);
        let span = Span::new(file.clone(), at.line, at.column);
        let (next, lex) = match lexeme(rest) {
            Ok(ok) => ok,
            // Unreachable given the catch-all alternative; report rather than panic.
            Err(_) => {
                return Err(ConfigError::Syntax {
                    span,
                    message: "unreadable text".into(),
                })
            }
        };
        let tok = |kind, text: String| Token {
            kind,
            text,
            span: span.clone(),
        };
        match lex {
            Lexeme::Skip => {}
            Lexeme::Open => tokens.push(tok(TokKind::Open, "{".into())),
            Lexeme::Close => tokens.push(tok(TokKind::Close, "}".into())),
            Lexeme::Word(w) => tokens.push(tok(TokKind::Word, w.to_string())),
            Lexeme::Quoted(Some(q)) => tokens.push(tok(TokKind::Quoted, unescape(q))),
            Lexeme::Quoted(None) => {
                return Err(ConfigError::Syntax {
                    span,
                    message: "unterminated quoted string".into(),
                })
            }
        }
        rest = next;
    }
    tokens.push(Token {
        kind: TokKind::Newline,
        text: String::new(),
        span: Span::new(file.clone(), line.eol.line, line.eol.column),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pre::{Context, Preprocessor};

    /// Every token of `text`, preprocessed as the loader does it.
    fn tokenize(text: &str, file: &Arc<Path>) -> Result<Vec<Token>, ConfigError> {
        let mut cx = Context::new(None);
        let mut pre = Preprocessor::new(text, file.clone());
        let mut tokens = Vec::new();
        while let Some(line) = pre.next_line(&mut cx)? {
            lex_line(&line, file, &mut tokens)?;
        }
        Ok(tokens)
    }

    fn kinds(text: &str) -> Vec<(TokKind, String, u32, u32)> {
        let file: Arc<Path> = Arc::from(Path::new("t.conf"));
        tokenize(text, &file)
            .expect("tokenizes")
            .into_iter()
            .map(|t| (t.kind, t.text, t.span.line, t.span.column))
            .collect()
    }

    #[test]
    fn words_braces_comments_and_quotes() {
        let toks = kinds("a b{ # c\n  \"x \\\" y\"! z\n}");
        assert_eq!(
            toks,
            vec![
                (TokKind::Word, "a".into(), 1, 1),
                (TokKind::Word, "b".into(), 1, 3),
                (TokKind::Open, "{".into(), 1, 4),
                (TokKind::Newline, "".into(), 1, 9),
                (TokKind::Quoted, "x \" y".into(), 2, 3),
                (TokKind::Newline, "".into(), 2, 14),
                (TokKind::Close, "}".into(), 3, 1),
                (TokKind::Newline, "".into(), 3, 2),
            ]
        );
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let file: Arc<Path> = Arc::from(Path::new("t.conf"));
        let err = tokenize("x \"abc\n", &file).expect_err("unterminated");
        assert_eq!(err.to_string(), "t.conf:1:3: unterminated quoted string");
    }

    #[test]
    fn escaped_comment_characters_are_text() {
        let toks = kinds("a\\#b \\!c # d");
        let words: Vec<&str> = toks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(words, ["a#b", "!c", ""]);
        // Where the ! itself is.
        assert_eq!((toks[1].2, toks[1].3), (1, 7));
    }
}
