//! ACLs (`acl NAME CRITERION [FLAGS] PATTERN...`) and the `if`/`unless` conditions built
//! from them. Every definition of a name is kept (HAProxy ORs them); a criterion, match
//! method or flag that cannot be honoured is an error, never an ACL that silently never
//! matches, because ACLs guard access.

use std::net::IpAddr;
use std::sync::Arc;

use super::lex::Word;
use super::parse::{Parser, ProxyBuild};
use super::sample::{parse_fetch, Expr, Fetch};

/// How an ACL compares samples with its patterns (`-m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// `str`: equal.
    Str,
    /// `beg`: prefix.
    Beg,
    /// `end`: suffix.
    End,
    /// `sub`: substring.
    Sub,
    /// `dom`: a run of whole labels delimited by `/`, `?`, `.` or `:`.
    Dom,
    /// `dir`: a run of whole path segments delimited by `/` or `?`.
    Dir,
    /// `reg`: regular expression.
    Reg,
    /// `found`: the sample exists.
    Found,
    /// `bool`: the sample is true (non-zero, non-empty).
    Bool,
    /// `ip`: an address in one of the networks.
    Ip,
    /// `int`: an integer in one of the ranges.
    Int,
    /// `len`: the length in one of the ranges.
    Len,
}

/// An IPv4 or IPv6 network (`198.18.0.0/15`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    /// The network address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl IpNet {
    /// Parses `ADDR[/PREFIX]`.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|&p| p <= max)?,
        };
        Some(IpNet { addr, prefix })
    }

    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An integer range (`443`, `1024:65535`, `ge 10`, ...); `None` ends are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRange {
    /// Lowest value matched.
    pub lo: Option<i64>,
    /// Highest value matched.
    pub hi: Option<i64>,
}

impl IntRange {
    /// Whether `v` is in the range.
    pub fn contains(&self, v: i64) -> bool {
        self.lo.is_none_or(|l| v >= l) && self.hi.is_none_or(|h| v <= h)
    }
}

/// A compiled regular expression, compared by its source.
#[derive(Debug, Clone)]
pub struct Regex(pub regex::Regex);

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
impl Eq for Regex {}

/// The patterns of an ACL, typed by its match method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    /// Strings (lower-cased when the ACL has `-i`).
    Text(Vec<String>),
    /// Regular expressions.
    Regex(Vec<Regex>),
    /// Networks.
    Nets(Vec<IpNet>),
    /// Integer ranges.
    Ints(Vec<IntRange>),
    /// `found` and `bool` take none.
    None,
}

/// One ACL definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// What it looks at.
    pub expr: Expr,
    /// How it compares.
    pub method: Match,
    /// `-i`.
    pub ignore_case: bool,
    /// What it compares with; the ACL matches if any pattern matches.
    pub patterns: Patterns,
}

/// One term of a condition: an ACL name, maybe negated, with every definition of that
/// name (filled in when the configuration is finished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// `!acl`.
    pub negate: bool,
    /// The name as written (anonymous ACLs get a name starting with a blank).
    pub name: String,
    /// The definitions; the term is true when any matches.
    pub acls: Arc<[Acl]>,
}

/// `if|unless` condition: OR of AND-groups of terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `unless` instead of `if`.
    pub unless: bool,
    /// Groups separated by `or`/`||`.
    pub any_of: Vec<Vec<Term>>,
}

impl Condition {
    /// Every term, mutably (to resolve names).
    pub(super) fn terms_mut(&mut self) -> impl Iterator<Item = &mut Term> {
        self.any_of.iter_mut().flatten()
    }
}

/// HAProxy's predefined ACLs that this proxy can evaluate.
pub(super) fn predefined(name: &str) -> Option<Acl> {
    let text = |fetch: Fetch, method: Match, v: &[&str]| Acl {
        expr: Expr {
            fetch,
            conv: Vec::new(),
        },
        method,
        ignore_case: false,
        patterns: Patterns::Text(v.iter().map(|s| s.to_string()).collect()),
    };
    let boolean = |b: bool| Acl {
        expr: Expr {
            fetch: Fetch::Bool(b),
            conv: Vec::new(),
        },
        method: Match::Bool,
        ignore_case: false,
        patterns: Patterns::None,
    };
    Some(match name {
        "TRUE" | "HTTP" => boolean(true),
        "FALSE" => boolean(false),
        "LOCALHOST" => Acl {
            expr: Expr {
                fetch: Fetch::Src,
                conv: Vec::new(),
            },
            method: Match::Ip,
            ignore_case: false,
            patterns: Patterns::Nets(
                ["127.0.0.0/8", "::1"]
                    .iter()
                    .filter_map(|n| IpNet::parse(n))
                    .collect(),
            ),
        },
        "METH_GET" => text(Fetch::Method, Match::Str, &["GET", "HEAD"]),
        "METH_HEAD" => text(Fetch::Method, Match::Str, &["HEAD"]),
        "METH_POST" => text(Fetch::Method, Match::Str, &["POST"]),
        "METH_PUT" => text(Fetch::Method, Match::Str, &["PUT"]),
        "METH_DELETE" => text(Fetch::Method, Match::Str, &["DELETE"]),
        "METH_OPTIONS" => text(Fetch::Method, Match::Str, &["OPTIONS"]),
        "METH_TRACE" => text(Fetch::Method, Match::Str, &["TRACE"]),
        "METH_CONNECT" => text(Fetch::Method, Match::Str, &["CONNECT"]),
        "HTTP_1.0" => text(Fetch::ReqVer, Match::Str, &["1.0"]),
        "HTTP_1.1" => text(Fetch::ReqVer, Match::Str, &["1.1"]),
        "HTTP_2.0" => text(Fetch::ReqVer, Match::Str, &["2.0"]),
        "HTTP_URL_SLASH" => text(Fetch::Url, Match::Beg, &["/"]),
        "HTTP_URL_STAR" => text(Fetch::Url, Match::Str, &["*"]),
        _ => return None,
    })
}

/// The fetch of an ACL criterion and the match method its name implies: `path_beg`,
/// `hdr_end(host)`, `ssl_fc_sni_reg`, `src`, ...
fn criterion(c: &str) -> Result<(Fetch, Match), String> {
    const SUFFIXES: [(&str, Match); 10] = [
        ("_beg", Match::Beg),
        ("_end", Match::End),
        ("_sub", Match::Sub),
        ("_dom", Match::Dom),
        ("_dir", Match::Dir),
        ("_reg", Match::Reg),
        ("_len", Match::Len),
        ("_ip", Match::Ip),
        ("_val", Match::Int),
        ("_found", Match::Found),
    ];
    if let Ok(f) = parse_fetch(c) {
        let m = default_match(&f);
        return Ok((f, m));
    }
    let (name, args) = match c.find('(') {
        Some(p) => c.split_at(p),
        None => (c, ""),
    };
    for (suffix, m) in SUFFIXES {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Ok(f) = parse_fetch(&format!("{base}{args}")) {
                return Ok((f, m));
            }
        }
    }
    Err(format!("acl criterion '{c}' is not supported"))
}

fn default_match(f: &Fetch) -> Match {
    match f {
        Fetch::Src | Fetch::Dst => Match::Ip,
        Fetch::SrcPort | Fetch::DstPort | Fetch::ReqHdrCnt(_) | Fetch::Status => Match::Int,
        Fetch::SslFc | Fetch::Bool(_) => Match::Bool,
        _ => Match::Str,
    }
}

fn match_method(m: &str) -> Option<Match> {
    Some(match m {
        "str" => Match::Str,
        "beg" => Match::Beg,
        "end" => Match::End,
        "sub" => Match::Sub,
        "dom" => Match::Dom,
        "dir" => Match::Dir,
        "reg" => Match::Reg,
        "found" => Match::Found,
        "bool" => Match::Bool,
        "ip" => Match::Ip,
        "int" => Match::Int,
        "len" => Match::Len,
        _ => return None,
    })
}

/// Parses integer patterns, with HAProxy's operators (`eq`, `ge`, `gt`, `le`, `lt`).
fn int_patterns(values: &[String]) -> Result<Vec<IntRange>, String> {
    let mut out = Vec::new();
    let mut it = values.iter();
    let num = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("invalid integer '{s}'"))
    };
    while let Some(v) = it.next() {
        let op = v.as_str();
        if matches!(op, "eq" | "ge" | "gt" | "le" | "lt") {
            let n = num(it.next().ok_or(format!("'{op}' needs a value"))?)?;
            out.push(match op {
                "eq" => IntRange {
                    lo: Some(n),
                    hi: Some(n),
                },
                "ge" => IntRange {
                    lo: Some(n),
                    hi: None,
                },
                "gt" => IntRange {
                    lo: n.checked_add(1),
                    hi: None,
                },
                "le" => IntRange {
                    lo: None,
                    hi: Some(n),
                },
                _ => IntRange {
                    lo: None,
                    hi: n.checked_sub(1),
                },
            });
        } else if let Some((a, b)) = op.split_once(':') {
            let lo = if a.is_empty() { None } else { Some(num(a)?) };
            let hi = if b.is_empty() { None } else { Some(num(b)?) };
            out.push(IntRange { lo, hi });
        } else {
            let n = num(op)?;
            out.push(IntRange {
                lo: Some(n),
                hi: Some(n),
            });
        }
    }
    Ok(out)
}

/// Types the patterns for `method`.
fn patterns(method: Match, ignore_case: bool, values: Vec<String>) -> Result<Patterns, String> {
    Ok(match method {
        Match::Found | Match::Bool => {
            if let Some(v) = values.first() {
                return Err(format!("'{v}': this match method takes no pattern"));
            }
            Patterns::None
        }
        Match::Ip => Patterns::Nets(
            values
                .iter()
                .map(|v| IpNet::parse(v).ok_or_else(|| format!("invalid address or network '{v}'")))
                .collect::<Result<_, _>>()?,
        ),
        Match::Int | Match::Len => Patterns::Ints(int_patterns(&values)?),
        Match::Reg => Patterns::Regex(
            values
                .iter()
                .map(|v| {
                    regex::RegexBuilder::new(v)
                        .case_insensitive(ignore_case)
                        .build()
                        .map(Regex)
                        .map_err(|e| format!("invalid regular expression '{v}': {e}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => Patterns::Text(if ignore_case {
            values.into_iter().map(|v| v.to_ascii_lowercase()).collect()
        } else {
            values
        }),
    })
}

/// Pattern lines of an `-f FILE`: one per line, `#` comments and blank lines skipped.
fn pattern_file(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read pattern file '{path}': {e}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

impl Parser {
    /// Parses `CRITERION [FLAGS] PATTERN...` (after `acl NAME`, or inside `{ }`).
    pub(super) fn acl_body(&mut self, w: &[Word], col: usize) -> Option<Acl> {
        let Some(crit) = w.first() else {
            self.err(col, "'acl' needs a criterion");
            return None;
        };
        let (fetch, mut method) = match criterion(&crit.text) {
            Ok(x) => x,
            Err(m) => {
                self.err(crit.col, m);
                return None;
            }
        };
        let mut ignore_case = false;
        let mut values = Vec::new();
        let mut from_file = false;
        let mut i = 1;
        while let Some(x) = w.get(i) {
            match x.text.as_str() {
                "-i" => ignore_case = true,
                "-n" | "-u" => {}
                "-m" | "-f" | "-M" => {
                    let Some(v) = w.get(i + 1) else {
                        self.err(x.col, format!("'{}' needs an argument", x.text));
                        return None;
                    };
                    i += 1;
                    let r = match x.text.as_str() {
                        "-m" => match_method(&v.text)
                            .map(|m| method = m)
                            .ok_or(format!("acl match method '{}' is not supported", v.text)),
                        "-f" => pattern_file(&v.text).map(|p| {
                            from_file = true;
                            values.extend(p)
                        }),
                        _ => Err("acl '-M' (map files) is not supported".to_string()),
                    };
                    if let Err(m) = r {
                        self.err(v.col, m);
                        return None;
                    }
                }
                "--" => {
                    values.extend(w[i + 1..].iter().map(|v| v.text.clone()));
                    break;
                }
                v => values.push(v.to_string()),
            }
            i += 1;
        }
        if values.is_empty() && !from_file && !matches!(method, Match::Found | Match::Bool) {
            self.err(crit.col, "acl has no pattern");
            return None;
        }
        match patterns(method, ignore_case, values) {
            Ok(patterns) => Some(Acl {
                expr: Expr {
                    fetch,
                    conv: Vec::new(),
                },
                method,
                ignore_case,
                patterns,
            }),
            Err(m) => {
                self.err(crit.col, m);
                None
            }
        }
    }

    /// Parses `if|unless TERMS`; anonymous ACLs `{ ... }` are added to the proxy's ACLs
    /// under generated names, and named terms are noted with their position so that
    /// [`Parser::finish`] can resolve them.
    pub(super) fn condition(&mut self, p: &mut ProxyBuild, w: &[Word]) -> Option<Condition> {
        let unless = match w[0].text.as_str() {
            "if" => false,
            "unless" => true,
            other => {
                self.err(
                    w[0].col,
                    format!("expected 'if' or 'unless', found '{other}'"),
                );
                return None;
            }
        };
        let mut any_of = vec![Vec::new()];
        let mut i = 1;
        while let Some(x) = w.get(i) {
            let t = x.text.as_str();
            if t == "or" || t == "||" {
                any_of.push(Vec::new());
                i += 1;
                continue;
            }
            let (negate, name) = match t.strip_prefix('!') {
                Some(n) => (true, n),
                None => (false, t),
            };
            let name = if name == "{"
                || (name.is_empty() && w.get(i + 1).is_some_and(|n| n.text == "{"))
            {
                if name.is_empty() {
                    i += 1;
                }
                let start = i + 1;
                let Some(end) = w[start..].iter().position(|x| x.text == "}") else {
                    self.err(x.col, "unterminated anonymous ACL '{'");
                    return None;
                };
                let body = self.acl_body(&w[start..start + end], x.col)?;
                p.anon_acls += 1;
                let n = format!(" anon{}", p.anon_acls);
                p.acls.insert(n.clone(), vec![body]);
                p.acl_refs.push((n.clone(), self.pos(x.col)));
                i = start + end;
                n
            } else {
                p.acl_refs
                    .push((name.to_string(), self.pos(x.col + usize::from(negate))));
                name.to_string()
            };
            if let Some(g) = any_of.last_mut() {
                g.push(Term {
                    negate,
                    name,
                    acls: Arc::from(Vec::new()),
                });
            }
            i += 1;
        }
        if any_of.iter().any(Vec::is_empty) {
            self.err(w[0].col, "empty condition");
            return None;
        }
        Some(Condition { unless, any_of })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n = IpNet::parse("198.18.0.0/15").expect("valid");
        assert!(n.contains("198.19.255.1".parse().expect("ip")));
        assert!(!n.contains("198.20.0.1".parse().expect("ip")));
        assert!(
            n.contains("::ffff:198.18.0.9".parse().expect("ip")),
            "v4-mapped"
        );
        let one = IpNet::parse("10.0.0.1").expect("valid");
        assert!(!one.contains("10.0.0.2".parse().expect("ip")));
        let v6 = IpNet::parse("fd00:198:18::/64").expect("valid");
        assert!(v6.contains("fd00:198:18::5".parse().expect("ip")));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        assert!(IpNet::parse("0.0.0.0/0")
            .expect("valid")
            .contains("1.2.3.4".parse().expect("ip")));
    }

    #[test]
    fn criteria_imply_match_methods() {
        assert_eq!(criterion("path_beg"), Ok((Fetch::Path, Match::Beg)));
        assert_eq!(
            criterion("hdr_end(Host)"),
            Ok((Fetch::ReqHdr("host".into(), None), Match::End))
        );
        assert_eq!(
            criterion("ssl_fc_sni_reg"),
            Ok((Fetch::SslFcSni, Match::Reg))
        );
        assert_eq!(criterion("src"), Ok((Fetch::Src, Match::Ip)));
        assert_eq!(criterion("ssl_fc"), Ok((Fetch::SslFc, Match::Bool)));
        assert_eq!(
            criterion("hdr_cnt(x)"),
            Ok((Fetch::ReqHdrCnt("x".into()), Match::Int))
        );
        assert!(criterion("sc0_http_req_rate").is_err());
        assert!(criterion("http_auth(users)").is_err());
    }

    #[test]
    fn integer_operators() {
        let r = int_patterns(&[
            "ge".into(),
            "10".into(),
            "1:5".into(),
            "lt".into(),
            "0".into(),
        ])
        .expect("valid");
        assert!(r[0].contains(10) && !r[0].contains(9));
        assert!(r[1].contains(5) && !r[1].contains(6));
        assert!(r[2].contains(-1) && !r[2].contains(0));
        assert!(int_patterns(&["ge".into()]).is_err());
    }
}
