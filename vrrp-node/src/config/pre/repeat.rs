//! `~SEQ` and `~LST` lines, keepalived.conf(5) "Sequence blocks" and "List blocks": the rest
//! of the line is read once for each value, with the variable defined as that value.
//!
//! `~SEQ(var, start, step, end)` counts from start by step while not past end; without step
//! it is 1 or -1 (towards end); without start it is 1, or -1 when end is negative (and as in
//! keepalived, `~SEQ(var, 0)` gives 1 then 0). `~SEQx` writes the values in hexadecimal.
//! Numbers are C's (`0x10`, `010` octal). `~LST(var, v1, v2...)` takes the values listed;
//! `~LST({a, b}, {1, 2}, {3, 4})` sets several variables at once. The values may use
//! parameters; the rest of the line is substituted for each copy.

use super::mapped::{is_blank, Mapped};
use super::Fail;
use crate::config::error::ParamProblem;

/// A `~SEQ`/`~LST` line being repeated.
#[derive(Debug)]
pub(crate) struct Repeat {
    vars: Vec<String>,
    values: Values,
    /// The rest of the line, read for each value.
    pub text: Mapped,
}

#[derive(Debug)]
enum Values {
    Seq {
        next: i64,
        step: i64,
        last: i64,
        hex: bool,
        done: bool,
    },
    List {
        items: std::vec::IntoIter<Vec<String>>,
    },
}

impl Repeat {
    /// The variables' next values, or `None` when every copy has been made.
    pub(crate) fn next_values(&mut self) -> Option<Vec<(String, String)>> {
        let values = match &mut self.values {
            Values::Seq {
                next,
                step,
                last,
                hex,
                done,
            } => {
                if *done {
                    return None;
                }
                let value = *next;
                match next.checked_add(*step) {
                    Some(n) if (*step > 0 && n <= *last) || (*step < 0 && n >= *last) => *next = n,
                    _ => *done = true,
                }
                vec![if *hex {
                    format!("{value:x}")
                } else {
                    value.to_string()
                }]
            }
            Values::List { items } => items.next()?,
        };
        let mut values = values.into_iter();
        Some(
            self.vars
                .iter()
                .map(|v| (v.clone(), values.next().unwrap_or_default()))
                .collect(),
        )
    }

    /// How many copies are left, when known without making them.
    pub(crate) fn remaining(&self) -> u128 {
        match &self.values {
            Values::Seq { done: true, .. } => 0,
            Values::Seq {
                next, step, last, ..
            } => {
                let span = (i128::from(*last) - i128::from(*next)) / i128::from(*step);
                u128::try_from(span).map_or(0, |s| s + 1)
            }
            Values::List { items } => items.len() as u128,
        }
    }
}

/// The parts of `~KIND(HEAD, ARGS) REST`.
struct Parts {
    head: String,
    /// Byte range of ARGS in the line.
    args: (usize, usize),
    /// Byte offset of REST.
    rest: usize,
}

/// Splits the line after its `~SEQ`/`~LST` word (`prefix` bytes long).
fn parts(text: &str, prefix: usize, what: &'static str) -> Result<Parts, ParamProblem> {
    let bad = |reason: &str| ParamProblem::BadRepeat {
        what,
        reason: reason.to_string(),
    };
    let after = text.get(prefix..).unwrap_or_default();
    let open = prefix + (after.len() - after.trim_start_matches(is_blank).len());
    if !text.get(open..).is_some_and(|t| t.starts_with('(')) {
        return Err(bad("expected \"(\""));
    }
    let close = text[open..]
        .find(')')
        .map(|i| open + i)
        .ok_or_else(|| bad("missing \")\""))?;
    let inner = &text[open + 1..close];
    // The head is a name, or for ~LST a {name, name...} group.
    let head_len = if inner.trim_start().starts_with('{') {
        inner.find('}').map(|i| i + 1)
    } else {
        inner.find(',')
    }
    .ok_or_else(|| bad("expected a variable, then \",\" and values"))?;
    let head = inner[..head_len].trim().to_string();
    let comma = inner[head_len..]
        .find(',')
        .filter(|i| inner[head_len..head_len + i].trim().is_empty())
        .ok_or_else(|| bad("expected \",\" after the variable"))?;
    if head.is_empty() {
        return Err(bad("expected a variable"));
    }
    let args_start = open + 1 + head_len + comma + 1;
    let rest_gap = text[close + 1..].len() - text[close + 1..].trim_start_matches(is_blank).len();
    Ok(Parts {
        head,
        args: (args_start, close),
        rest: close + 1 + rest_gap,
    })
}

/// A number as C's `strtol` with base 0 reads it: decimal, `0x` hexadecimal, `0` octal.
fn number(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, h)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// The substituted arguments of a repeat line.
pub(crate) type ArgsOf<'a> = &'a mut dyn FnMut(&Mapped) -> Result<String, Fail>;

/// Reads a `~SEQ`/`~SEQx`/`~LST` line; `args_of` substitutes its arguments.
pub(crate) fn repeat(line: &Mapped, args_of: ArgsOf<'_>) -> Result<Repeat, Fail> {
    let at = line.pos_at(0);
    let mut args_fail = None;
    let mut args = |m: &Mapped| {
        args_of(m).unwrap_or_else(|f| {
            args_fail = Some(f);
            String::new()
        })
    };
    let read = if line.text().starts_with("~LST") {
        lst(line, &mut args)
    } else {
        seq(line, &mut args)
    };
    match (read, args_fail) {
        (_, Some(fail)) => Err(fail),
        (Ok(r), None) => Ok(r),
        (Err(problem), None) => Err(Fail::Line(at, problem)),
    }
}

/// Reads `~SEQ(...)`/`~SEQx(...)`.
fn seq(line: &Mapped, args_of: &mut dyn FnMut(&Mapped) -> String) -> Result<Repeat, ParamProblem> {
    let text = line.text();
    let hex = text.get(4..).is_some_and(|t| t.starts_with('x'));
    let what = if hex { "~SEQx" } else { "~SEQ" };
    let bad = |reason: String| ParamProblem::BadRepeat { what, reason };
    let p = parts(text, if hex { 5 } else { 4 }, what)?;
    let args = args_of(&line.slice(p.args.0, p.args.1));
    let nums = args
        .split(',')
        .map(|a| number(a).ok_or_else(|| bad(format!("\"{}\" is not a number", a.trim()))))
        .collect::<Result<Vec<i64>, _>>()?;
    let (start, step, last) = match nums[..] {
        [end] => (
            if end < 0 { -1 } else { 1 },
            if end < 1 { -1 } else { 1 },
            end,
        ),
        [start, end] => (start, if start <= end { 1 } else { -1 }, end),
        [start, step, end] => (start, step, end),
        _ => return Err(bad("expected 1 to 3 numbers: [start,] [step,] end".into())),
    };
    if step == 0 || (start < last && step < 0) || (start > last && step > 0) {
        return Err(bad(format!(
            "step {step} never goes from {start} to {last}"
        )));
    }
    if hex && (start < 0 || last < 0) {
        return Err(bad("~SEQx takes positive numbers only".into()));
    }
    Ok(Repeat {
        vars: vec![p.head],
        values: Values::Seq {
            next: start,
            step,
            last,
            hex,
            done: false,
        },
        text: line.slice(p.rest, line.len()),
    })
}

/// The names or values of a `{a, b}` group, or of a single item.
fn group(item: &str) -> Result<Vec<String>, String> {
    let item = item.trim();
    let inner = match item.strip_prefix('{') {
        Some(rest) => rest
            .strip_suffix('}')
            .ok_or_else(|| format!("\"{item}\" is not closed by \"}}\""))?,
        None => item,
    };
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    match values
        .iter()
        .find(|v| v.contains(is_blank) || v.contains(['{', '}']))
    {
        Some(v) => Err(format!("\"{v}\" is not a single value")),
        None => Ok(values),
    }
}

/// Splits `a, {b, c}, d` at the commas outside braces.
fn items(args: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in args.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&args[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&args[start..]);
    out
}

/// Reads `~LST(...)`.
fn lst(line: &Mapped, args_of: &mut dyn FnMut(&Mapped) -> String) -> Result<Repeat, ParamProblem> {
    let what = "~LST";
    let bad = |reason: String| ParamProblem::BadRepeat { what, reason };
    let p = parts(line.text(), 4, what)?;
    let vars = group(&p.head).map_err(bad)?;
    if vars.iter().any(String::is_empty) {
        return Err(bad("a variable name is missing".into()));
    }
    let args = args_of(&line.slice(p.args.0, p.args.1));
    let values = items(&args)
        .into_iter()
        .map(group)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if let Some(v) = values.iter().find(|v| v.len() > vars.len()) {
        return Err(bad(format!(
            "{{{}}} has more values than there are variables",
            v.join(",")
        )));
    }
    Ok(Repeat {
        vars,
        values: Values::List {
            items: values.into_iter(),
        },
        text: line.slice(p.rest, line.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pre::mapped::decomment;

    fn values(text: &str) -> Result<Vec<String>, ParamProblem> {
        let line = decomment(text, 1);
        let mut r = if text.starts_with("~SEQ") {
            seq(&line, &mut |m| m.text().to_string())?
        } else {
            lst(&line, &mut |m| m.text().to_string())?
        };
        let mut out = Vec::new();
        while let Some(v) = r.next_values() {
            let joined: Vec<String> = v.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(joined.join(" "));
        }
        out.push(r.text.text().to_string());
        Ok(out)
    }

    #[test]
    fn seq_forms() {
        assert_eq!(
            values("~SEQ(i, 3) x").expect("valid"),
            ["i=1", "i=2", "i=3", "x"]
        );
        assert_eq!(values("~SEQ(i, 0) x").expect("valid"), ["i=1", "i=0", "x"]);
        assert_eq!(values("~SEQ(i, -2)").expect("valid"), ["i=-1", "i=-2", ""]);
        assert_eq!(
            values("~SEQ(i, 5, 3) y").expect("valid"),
            ["i=5", "i=4", "i=3", "y"]
        );
        assert_eq!(
            values("~SEQ(i, 1, 2, 6) z").expect("valid"),
            ["i=1", "i=3", "i=5", "z"]
        );
        assert_eq!(
            values("~SEQx(h, 0x90, 0x10, 0xc0) a").expect("valid"),
            ["h=90", "h=a0", "h=b0", "h=c0", "a"]
        );
        assert_eq!(
            values("~SEQ ( i , 010 , 011 )b").expect("valid"),
            ["i=8", "i=9", "b"]
        );
        assert_eq!(
            values(&format!("~SEQ(i, {}, {})", i64::MAX - 1, i64::MAX))
                .expect("valid")
                .len(),
            3,
            "no overflow at the end of the range"
        );
    }

    #[test]
    fn bad_seqs() {
        for bad in [
            "~SEQ",
            "~SEQ i, 3)",
            "~SEQ(i)",
            "~SEQ(i, 3",
            "~SEQ(, 3)",
            "~SEQ(i, x)",
            "~SEQ(i, 1, 0, 3)",
            "~SEQ(i, 1, -1, 3)",
            "~SEQ(i, 1, 2, 3, 4)",
            "~SEQx(i, -1, 2)",
            "~SEQ(i, 99999999999999999999)",
        ] {
            assert!(
                matches!(values(bad), Err(ParamProblem::BadRepeat { .. })),
                "{bad}: {:?}",
                values(bad)
            );
        }
    }

    #[test]
    fn lst_forms() {
        assert_eq!(
            values("~LST(v, p, q) x").expect("valid"),
            ["v=p", "v=q", "x"]
        );
        assert_eq!(
            values("~LST({IP, IP1}, {10,1},{20,4}) y").expect("valid"),
            ["IP=10 IP1=1", "IP=20 IP1=4", "y"]
        );
        assert_eq!(
            values("~LST({a,b}, {1}) z").expect("valid"),
            ["a=1 b=", "z"],
            "missing values are empty"
        );
        assert_eq!(values("~LST(e, , y)").expect("valid"), ["e=", "e=y", ""]);
        for bad in [
            "~LST(v)",
            "~LST(v, x y, z)",
            "~LST({c,d}, {1,2,3})",
            "~LST({a, b, 1)",
        ] {
            assert!(values(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remaining_counts_without_making() {
        let line = decomment("~SEQ(i, 0, 1000000000000)", 1);
        let r = seq(&line, &mut |m| m.text().to_string()).expect("valid");
        assert_eq!(r.remaining(), 1_000_000_000_001);
    }
}
