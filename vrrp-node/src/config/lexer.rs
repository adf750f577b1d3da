//! keepalived.conf tokens: words, quoted strings, braces and line ends.
//!
//! keepalived's grammar is line-based (a keyword and its values share a line), so line ends
//! are tokens. Comments start at `#` or `!` anywhere outside quotes and run to the end of the
//! line. The lexer is a loop over small nom parsers, so input size never grows the stack.

use std::path::Path;
use std::sync::Arc;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, none_of};
use nom::combinator::{map, value};
use nom::IResult;
use nom::Parser;

use super::error::{ConfigError, Span};

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
    Newline,
    Open,
    Close,
    Word(&'a str),
    /// A quoted string, still escaped; `None` when the closing quote is missing.
    Quoted(Option<&'a str>),
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r' || c == '\x0b' || c == '\x0c'
}

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '{' | '}' | '"' | '#' | '!'))
}

fn blanks(i: &str) -> IResult<&str, Lexeme<'_>> {
    value(Lexeme::Skip, take_while1(is_blank)).parse(i)
}

fn comment(i: &str) -> IResult<&str, Lexeme<'_>> {
    value(
        Lexeme::Skip,
        (alt((char('#'), char('!'))), take_while(|c| c != '\n')),
    )
    .parse(i)
}

/// The body of a quoted string up to (not including) the closing quote; `\"` and `\\` are
/// escapes, so the body is returned raw and unescaped by [`unescape`].
fn quoted(i: &str) -> IResult<&str, Lexeme<'_>> {
    let (rest, _) = char('"')(i)?;
    let mut escaped = false;
    for (idx, c) in rest.char_indices() {
        match c {
            '\n' => break,
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Ok((&rest[idx + 1..], Lexeme::Quoted(Some(&rest[..idx])))),
            _ => escaped = false,
        }
    }
    Ok((rest, Lexeme::Quoted(None)))
}

fn lexeme(i: &str) -> IResult<&str, Lexeme<'_>> {
    alt((
        blanks,
        comment,
        value(Lexeme::Newline, char('\n')),
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

/// Splits `text` into tokens; `file` names it in spans.
pub(crate) fn tokenize(text: &str, file: &Arc<Path>) -> Result<Vec<Token>, ConfigError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    let mut line: u32 = 1;
    let mut column: u32 = 1;
    while !rest.is_empty() {
        let (next, lex) = match lexeme(rest) {
            Ok(ok) => ok,
            // Unreachable given the catch-all alternative; report rather than panic.
            Err(_) => {
                return Err(ConfigError::Syntax {
                    span: Span::new(file.clone(), line, column),
                    message: "unreadable text".into(),
                })
            }
        };
        let consumed = &rest[..rest.len() - next.len()];
        let span = Span::new(file.clone(), line, column);
        let tok = |kind, text: String| Token {
            kind,
            text,
            span: span.clone(),
        };
        match lex {
            Lexeme::Skip => {}
            Lexeme::Newline => tokens.push(tok(TokKind::Newline, String::new())),
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
        for c in consumed.chars() {
            if c == '\n' {
                line = line.saturating_add(1);
                column = 1;
            } else {
                column = column.saturating_add(1);
            }
        }
        rest = next;
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ]
        );
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let file: Arc<Path> = Arc::from(Path::new("t.conf"));
        let err = tokenize("x \"abc\n", &file).expect_err("unterminated");
        assert_eq!(err.to_string(), "t.conf:1:3: unterminated quoted string");
    }
}
