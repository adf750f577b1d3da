//! Value parsers: one keyword's arguments into a typed value, or an error that names the
//! keyword, what was expected and what was found.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::error::{ConfigError, Span};
use crate::config::model::{ScriptUser, VrrpVersion};
use crate::config::tree::{Node, Word};

use super::R;

/// Largest script or track weight keepalived accepts.
pub(super) const MAX_WEIGHT: i64 = 253;
/// Longest interface name (IFNAMSIZ - 1).
pub(super) const MAX_IFNAME: usize = 15;

/// Where an earlier definition is, for "already defined" messages: line:col in the same
/// file, else the full place.
pub(super) fn earlier(prev: &Span, here: &Span) -> String {
    if prev.file == here.file {
        format!("line {}:{}", prev.line, prev.column)
    } else {
        prev.to_string()
    }
}

pub(super) fn kw(node: &Node) -> &str {
    &node.name.text
}

pub(super) fn invalid_value(w: &Word, keyword: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        span: w.span.clone(),
        keyword: keyword.to_string(),
        expected: expected.into(),
        found: w.text.clone(),
    }
}

pub(super) fn invalid(span: &Span, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        span: span.clone(),
        message: message.into(),
    }
}

pub(super) fn no_block(node: &Node) -> R<()> {
    if node.block.is_some() {
        return Err(invalid(
            &node.name.span,
            format!("{} takes no block", kw(node)),
        ));
    }
    Ok(())
}

pub(super) fn block(node: &Node) -> R<&[Node]> {
    match &node.block {
        Some(children) => Ok(children),
        None => Err(ConfigError::MissingValue {
            span: node.name.span.clone(),
            keyword: kw(node).to_string(),
            expected: "a { } block".into(),
        }),
    }
}

pub(super) fn no_args(node: &Node) -> R<()> {
    match node.args.first() {
        Some(extra) => Err(unexpected(extra, kw(node))),
        None => Ok(()),
    }
}

pub(super) fn unexpected(extra: &Word, keyword: &str) -> ConfigError {
    ConfigError::UnexpectedArgument {
        span: extra.span.clone(),
        keyword: keyword.to_string(),
        found: extra.text.clone(),
    }
}

pub(super) fn missing(node: &Node, expected: &str) -> ConfigError {
    ConfigError::MissingValue {
        span: node.name.span.clone(),
        keyword: kw(node).to_string(),
        expected: expected.to_string(),
    }
}

/// The single value of a `keyword value` line.
pub(super) fn one_arg<'n>(node: &'n Node, expected: &str) -> R<&'n Word> {
    no_block(node)?;
    match node.args.as_slice() {
        [] => Err(missing(node, expected)),
        [w] => Ok(w),
        [_, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

pub(super) fn parse_bool(w: &Word, keyword: &str) -> R<bool> {
    match w.text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(invalid_value(w, keyword, "on|off|true|false|yes|no")),
    }
}

/// A flag keyword: alone it means on; keepalived also accepts an explicit boolean.
pub(super) fn flag(node: &Node) -> R<bool> {
    no_block(node)?;
    match node.args.as_slice() {
        [] => Ok(true),
        [w] => parse_bool(w, kw(node)),
        [_, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

/// `[weight N [reverse]]` after a tracked script or interface name.
pub(super) fn track_weight(line: &Node, keyword: &str) -> R<(Option<i32>, bool)> {
    match line.args.as_slice() {
        [] => Ok((None, false)),
        [k] if k.text == "weight" => Err(ConfigError::MissingValue {
            span: k.span.clone(),
            keyword: "weight".into(),
            expected: "an integer -253..253".into(),
        }),
        [k, w] if k.text == "weight" => Ok((Some(weight_word(w, "weight")?), false)),
        [k, w, r] if k.text == "weight" && r.text == "reverse" => {
            Ok((Some(weight_word(w, "weight")?), true))
        }
        [k, _, extra, ..] if k.text == "weight" => Err(unexpected(extra, keyword)),
        [extra, ..] => Err(unexpected(extra, keyword)),
    }
}

/// A decimal integer in `lo..=hi`; anything else names the range expected.
pub(super) fn int_word(w: &Word, keyword: &str, lo: i64, hi: i64) -> R<i64> {
    let expected = || invalid_value(w, keyword, format!("an integer {lo}..{hi}"));
    let t = w.text.as_str();
    let digits = t
        .strip_prefix('-')
        .or_else(|| t.strip_prefix('+'))
        .unwrap_or(t);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected());
    }
    let v: i64 = t.parse().map_err(|_| expected())?;
    if v < lo || v > hi {
        return Err(expected());
    }
    Ok(v)
}

pub(super) fn int_arg(node: &Node, lo: i64, hi: i64) -> R<i64> {
    let w = one_arg(node, &format!("an integer {lo}..{hi}"))?;
    int_word(w, kw(node), lo, hi)
}

pub(super) fn u32_arg(node: &Node, lo: u32, hi: u32) -> R<u32> {
    let v = int_arg(node, i64::from(lo), i64::from(hi))?;
    // In range by construction.
    Ok(u32::try_from(v).unwrap_or(hi))
}

pub(super) fn u8_arg(node: &Node, lo: u8, hi: u8) -> R<u8> {
    let v = int_arg(node, i64::from(lo), i64::from(hi))?;
    Ok(u8::try_from(v).unwrap_or(hi))
}

pub(super) fn weight_word(w: &Word, keyword: &str) -> R<i32> {
    let v = int_word(w, keyword, -MAX_WEIGHT, MAX_WEIGHT)?;
    Ok(i32::try_from(v).unwrap_or(0))
}

/// A non-negative decimal `W[.F]` as (whole, fraction scaled to `digits` places). No floats:
/// `0.1` must be exactly 10 cs.
pub(super) fn fixed_point(text: &str, digits: u32) -> Option<(u64, u64, bool)> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.is_empty() || whole.len() > 12 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let Some(frac) = frac else {
        return Some((whole, 0, false));
    };
    if frac.is_empty() || frac.len() > digits as usize || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut scaled: u64 = frac.parse().ok()?;
    for _ in frac.len()..digits as usize {
        scaled *= 10;
    }
    let nonzero = scaled != 0;
    Some((whole, scaled, nonzero))
}

/// Seconds with up to microsecond decimals, in `0..=max_secs`.
pub(super) fn seconds_arg(node: &Node, max_secs: u64) -> R<Duration> {
    let expected = format!("a number of seconds 0..{max_secs}");
    let w = one_arg(node, &expected)?;
    match fixed_point(&w.text, 6) {
        Some((s, us, _)) if s < max_secs || (s == max_secs && us == 0) => {
            Ok(Duration::from_secs(s) + Duration::from_micros(us))
        }
        _ => Err(invalid_value(w, kw(node), expected)),
    }
}

/// Whole seconds in `lo..=hi`.
pub(super) fn whole_seconds_arg(node: &Node, lo: u32, hi: u32) -> R<Duration> {
    let w = one_arg(node, &format!("a whole number of seconds {lo}..{hi}"))?;
    let v = int_word(w, kw(node), i64::from(lo), i64::from(hi))
        .map_err(|_| invalid_value(w, kw(node), format!("a whole number of seconds {lo}..{hi}")))?;
    Ok(Duration::from_secs(u64::try_from(v).unwrap_or(0)))
}

pub(super) fn ip_word(w: &Word, keyword: &str) -> R<IpAddr> {
    w.text
        .parse::<IpAddr>()
        .map_err(|_| invalid_value(w, keyword, "an IPv4 or IPv6 address"))
}

pub(super) fn ifname_word(w: &Word, keyword: &str) -> R<String> {
    let ok = !w.text.is_empty()
        && w.text.chars().count() <= MAX_IFNAME
        && !w.text.contains('/')
        && w.text != "."
        && w.text != ".."
        && !w.text.chars().any(char::is_whitespace);
    if !ok {
        return Err(invalid_value(
            w,
            keyword,
            format!("an interface name of 1..{MAX_IFNAME} characters"),
        ));
    }
    Ok(w.text.clone())
}

/// Splits a command line on whitespace, honouring single and double quotes and backslash
/// escapes, the way keepalived splits `script` and `notify*` strings.
pub(crate) fn split_command_line(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => match chars.next() {
                Some(n) => cur.push(n),
                None => cur.push('\\'),
            },
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// A command line: one (usually quoted) string split like a shell would, or several words
/// taken as argv as they stand.
pub(super) fn command_arg(node: &Node) -> R<Vec<String>> {
    no_block(node)?;
    let argv = match node.args.as_slice() {
        [] => return Err(missing(node, "a command line")),
        [one] => split_command_line(&one.text),
        many => many.iter().map(|w| w.text.clone()).collect(),
    };
    if argv.is_empty() {
        return Err(invalid_value(&node.args[0], kw(node), "a command line"));
    }
    Ok(argv)
}

pub(super) fn script_user_arg(node: &Node) -> R<ScriptUser> {
    no_block(node)?;
    match node.args.as_slice() {
        [] => Err(missing(node, "a user name and optional group")),
        [u] => Ok(ScriptUser {
            user: u.text.clone(),
            group: None,
        }),
        [u, g] => Ok(ScriptUser {
            user: u.text.clone(),
            group: Some(g.text.clone()),
        }),
        [_, _, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

pub(super) fn version_arg(node: &Node) -> R<(VrrpVersion, Span)> {
    let w = one_arg(node, "2 or 3")?;
    match w.text.as_str() {
        "2" => Ok((VrrpVersion::V2, w.span.clone())),
        "3" => Ok((VrrpVersion::V3, w.span.clone())),
        _ => Err(invalid_value(w, kw(node), "2 or 3")),
    }
}

/// A name after a block keyword (`vrrp_instance VI_1 {`).
pub(super) fn block_name(node: &Node) -> R<&Word> {
    match node.args.as_slice() {
        [] => Err(missing(node, "a name")),
        [w] => Ok(w),
        [_, extra, ..] => Err(unexpected(extra, kw(node))),
    }
}

/// A keyword this block does not know.
pub(super) fn unknown_keyword(node: &Node, context: impl Into<String>) -> ConfigError {
    ConfigError::UnknownKeyword {
        span: node.name.span.clone(),
        keyword: kw(node).to_string(),
        context: context.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_is_exact() {
        assert_eq!(fixed_point("0.1", 2), Some((0, 10, true)));
        assert_eq!(fixed_point("1", 2), Some((1, 0, false)));
        assert_eq!(fixed_point("1.00", 2), Some((1, 0, false)));
        assert_eq!(fixed_point("0.05", 2), Some((0, 5, true)));
        assert_eq!(fixed_point("0.005", 2), None);
        assert_eq!(fixed_point(".5", 2), None);
        assert_eq!(fixed_point("1.", 2), None);
        assert_eq!(fixed_point("-1", 2), None);
        assert_eq!(fixed_point("99999999999999999999", 2), None);
    }

    #[test]
    fn command_lines_split_like_keepalived() {
        assert_eq!(
            split_command_line(r#"/bin/notify.sh "two words" 'x y' a\ b"#),
            vec!["/bin/notify.sh", "two words", "x y", "a b"]
        );
        assert_eq!(split_command_line("   "), Vec::<String>::new());
        assert_eq!(split_command_line(r#""""#), vec![String::new()]);
    }
}
