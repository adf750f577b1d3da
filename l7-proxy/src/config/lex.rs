//! Splitting haproxy.cfg lines into words, with positions.

/// One word of a line, unquoted and unescaped, with its 1-based column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word's text after quote removal and escape processing.
    pub text: String,
    /// 1-based column (in characters) where the word starts.
    pub col: usize,
}

/// Splits one line into words like HAProxy does: blanks separate words, `#` starts a
/// comment, `\` escapes the next character, `"..."` and `'...'` quote (no escapes inside
/// single quotes). Returns an error message and column for an unterminated quote.
pub fn split_line(line: &str) -> Result<Vec<Word>, (String, usize)> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut cur_col = 0usize;
    let mut in_word = false;
    let mut chars = line.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let col = i + 1;
        match c {
            ' ' | '\t' | '\r' => {
                if in_word {
                    words.push(Word {
                        text: std::mem::take(&mut cur),
                        col: cur_col,
                    });
                    in_word = false;
                }
            }
            '#' => break,
            _ => {
                if !in_word {
                    in_word = true;
                    cur_col = col;
                }
                match c {
                    '\\' => match chars.next() {
                        Some((_, n)) => cur.push(unescape(n)),
                        None => cur.push('\\'),
                    },
                    '"' => loop {
                        match chars.next() {
                            Some((_, '"')) => break,
                            Some((_, '\\')) => match chars.next() {
                                Some((_, n)) => cur.push(unescape(n)),
                                None => return Err(("unterminated double quote".into(), col)),
                            },
                            Some((_, ch)) => cur.push(ch),
                            None => return Err(("unterminated double quote".into(), col)),
                        }
                    },
                    '\'' => loop {
                        match chars.next() {
                            Some((_, '\'')) => break,
                            Some((_, ch)) => cur.push(ch),
                            None => return Err(("unterminated single quote".into(), col)),
                        }
                    },
                    _ => cur.push(c),
                }
            }
        }
    }
    if in_word {
        words.push(Word {
            text: cur,
            col: cur_col,
        });
    }
    Ok(words)
}

/// HAProxy's escapes: `\r`, `\n`, `\t`; any other character stands for itself.
fn unescape(c: char) -> char {
    match c {
        'r' => '\r',
        'n' => '\n',
        't' => '\t',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(l: &str) -> Vec<String> {
        split_line(l)
            .unwrap_or_default()
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn words_and_comments() {
        assert_eq!(texts("  bind :80   # web"), vec!["bind", ":80"]);
        assert_eq!(
            texts(r#"option httpchk GET "/a b" 'x\y' c\ d"#),
            vec!["option", "httpchk", "GET", "/a b", r"x\y", "c d"]
        );
        let w = split_line("\tserver a 127.0.0.1:80").unwrap_or_default();
        assert_eq!(w[0].col, 2);
        assert_eq!(w[2].col, 11);
        assert!(split_line("acl a \"open").is_err());
        assert_eq!(
            texts(r"option httpchk GET / HTTP/1.1\r\nHost:\ k8s"),
            vec!["option", "httpchk", "GET", "/", "HTTP/1.1\r\nHost: k8s"]
        );
    }
}
