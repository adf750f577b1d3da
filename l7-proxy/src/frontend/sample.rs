//! Evaluating sample fetches, ACLs and conditions against a connection and, in HTTP mode,
//! a request or a response (seen through [`HttpView`], so this module knows no parser).

use std::borrow::Cow;
use std::net::IpAddr;

use crate::config::{
    Acl, Condition, Converter, Expr, Fetch, FormatPart, LogFormat, Match, Patterns,
};
use crate::net::ConnInfo;

/// The parts of an HTTP message sample fetches read.
pub trait HttpView {
    /// The method (requests).
    fn method(&self) -> &str {
        ""
    }
    /// The request target as sent (requests).
    fn uri(&self) -> &str {
        ""
    }
    /// `1.0`, `1.1`, `2.0`.
    fn version(&self) -> &str;
    /// The status (responses).
    fn status(&self) -> u16 {
        0
    }
    /// Calls `f` with each value of header `name` (lower-case), in order.
    fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8]));
}

/// One sample value.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample<'a> {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Text.
    Str(Cow<'a, str>),
    /// An address.
    Ip(IpAddr),
}

impl Sample<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Sample::Str(s) => Cow::Borrowed(s.as_ref()),
            Sample::Bool(b) => Cow::Borrowed(if *b { "1" } else { "0" }),
            Sample::Int(i) => Cow::Owned(i.to_string()),
            Sample::Ip(ip) => Cow::Owned(ip.to_string()),
        }
    }
}

/// What fetches can read now.
#[derive(Clone, Copy)]
pub struct Sampler<'a> {
    /// The client connection.
    pub conn: &'a ConnInfo,
    /// The request, in HTTP mode.
    pub req: Option<&'a dyn HttpView>,
    /// The response, in `http-response` rules.
    pub res: Option<&'a dyn HttpView>,
}

impl std::fmt::Debug for Sampler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("conn", self.conn)
            .finish_non_exhaustive()
    }
}

/// The path of a request target (no query), also for absolute-form targets.
pub fn path_of(uri: &str) -> &str {
    let u = match uri.find("://") {
        Some(p) => uri[p + 3..]
            .find('/')
            .map(|q| &uri[p + 3 + q..])
            .unwrap_or("/"),
        None => uri,
    };
    u.split('?').next().unwrap_or(u)
}

/// Header values split at commas, as HAProxy's `hdr()` reads them.
fn split_values<'v>(v: &'v [u8], split: bool, out: &mut Vec<Cow<'v, str>>) {
    let text = String::from_utf8_lossy(v);
    if !split {
        out.push(Cow::Owned(text.trim().to_string()));
        return;
    }
    for part in text.split(',') {
        out.push(Cow::Owned(part.trim().to_string()));
    }
}

impl<'a> Sampler<'a> {
    /// A sampler of the connection alone (TCP mode, `tcp-request` rules).
    pub fn conn(conn: &'a ConnInfo) -> Sampler<'a> {
        Sampler {
            conn,
            req: None,
            res: None,
        }
    }

    /// Every value the fetch yields (most yield zero or one).
    pub fn values(&self, f: &Fetch) -> Vec<Sample<'a>> {
        let tls = self.conn.tls.as_ref();
        let one = |s: Option<Sample<'a>>| s.into_iter().collect();
        match f {
            Fetch::Src => vec![Sample::Ip(self.conn.peer.ip())],
            Fetch::SrcPort => vec![Sample::Int(i64::from(self.conn.peer.port()))],
            Fetch::Dst => vec![Sample::Ip(self.conn.local.ip())],
            Fetch::DstPort => vec![Sample::Int(i64::from(self.conn.local.port()))],
            Fetch::SslFc => vec![Sample::Bool(tls.is_some())],
            Fetch::SslFcSni => one(tls
                .and_then(|t| t.sni.as_deref())
                .map(|s| Sample::Str(s.into()))),
            Fetch::SslFcProtocol => one(tls.map(|t| Sample::Str(t.protocol.into()))),
            Fetch::SslFcAlpn => one(tls
                .and_then(|t| t.alpn.as_ref())
                .map(|a| Sample::Str(String::from_utf8_lossy(a).into_owned().into()))),
            Fetch::SslFcCipher => one(tls.map(|t| Sample::Str(t.cipher.into()))),
            Fetch::Const(s) => vec![Sample::Str(s.clone().into())],
            Fetch::Bool(b) => vec![Sample::Bool(*b)],
            Fetch::Status => one(self.res.map(|r| Sample::Int(i64::from(r.status())))),
            Fetch::ResHdr(name, occ) => self.headers(self.res, name, *occ, true),
            _ => self.request_values(f),
        }
    }

    fn request_values(&self, f: &Fetch) -> Vec<Sample<'a>> {
        let Some(req) = self.req else {
            return Vec::new();
        };
        let uri = req.uri();
        let text = |s: &'a str| vec![Sample::Str(Cow::Borrowed(s))];
        match f {
            Fetch::Method => text(req.method()),
            Fetch::Url => text(uri),
            Fetch::Path => text(path_of(uri)),
            Fetch::Query => uri
                .split_once('?')
                .map(|(_, q)| text(q))
                .unwrap_or_default(),
            Fetch::ReqVer => text(req.version()),
            Fetch::Base => {
                let host = self.headers(self.req, "host", Some(-1), false);
                let host = host
                    .first()
                    .map(|h| h.text().into_owned())
                    .unwrap_or_default();
                vec![Sample::Str(format!("{host}{}", path_of(uri)).into())]
            }
            Fetch::ReqHdr(name, occ) => self.headers(self.req, name, *occ, true),
            Fetch::ReqFhdr(name, occ) => self.headers(self.req, name, *occ, false),
            Fetch::ReqHdrCnt(name) => {
                let mut n = 0i64;
                req.each_header(name, &mut |_| n += 1);
                vec![Sample::Int(n)]
            }
            _ => Vec::new(),
        }
    }

    /// Values of a header; `occ` picks one (1 = first, -1 = last), `None` keeps all.
    fn headers(
        &self,
        msg: Option<&dyn HttpView>,
        name: &str,
        occ: Option<i32>,
        split: bool,
    ) -> Vec<Sample<'a>> {
        let Some(msg) = msg else {
            return Vec::new();
        };
        let mut all: Vec<String> = Vec::new();
        msg.each_header(name, &mut |v| {
            let mut parts = Vec::new();
            split_values(v, split, &mut parts);
            all.extend(parts.into_iter().map(Cow::into_owned));
        });
        let pick = match occ {
            None => return all.into_iter().map(|s| Sample::Str(s.into())).collect(),
            Some(n) if n > 0 => all.get(n as usize - 1).cloned(),
            Some(n) if n < 0 => all
                .len()
                .checked_sub(n.unsigned_abs() as usize)
                .and_then(|i| all.get(i))
                .cloned(),
            _ => None,
        };
        pick.map(|s| vec![Sample::Str(s.into())])
            .unwrap_or_default()
    }

    fn convert<'s>(&self, s: Sample<'s>, conv: &[Converter]) -> Sample<'s> {
        if conv.is_empty() {
            return s;
        }
        let mut t = s.text().into_owned();
        for c in conv {
            t = match c {
                Converter::Lower => t.to_ascii_lowercase(),
                Converter::Upper => t.to_ascii_uppercase(),
            };
        }
        Sample::Str(t.into())
    }

    /// The value a log-format uses: the last one (HAProxy's default occurrence).
    fn last(&self, e: &Expr) -> Option<String> {
        let f = match &e.fetch {
            Fetch::ReqHdr(n, None) => Fetch::ReqHdr(n.clone(), Some(-1)),
            Fetch::ResHdr(n, None) => Fetch::ResHdr(n.clone(), Some(-1)),
            f => f.clone(),
        };
        let v = self.values(&f).pop()?;
        Some(self.convert(v, &e.conv).text().into_owned())
    }

    /// Expands a log-format string.
    pub fn format(&self, f: &LogFormat) -> String {
        let mut out = String::new();
        for p in &f.parts {
            match p {
                FormatPart::Lit(s) => out.push_str(s),
                FormatPart::Expr(e) => out.push_str(&self.last(e).unwrap_or_default()),
            }
        }
        out
    }

    /// Whether one ACL definition matches.
    pub fn acl(&self, a: &Acl) -> bool {
        let values = self.values(&a.expr.fetch);
        match a.method {
            Match::Found => return !values.is_empty(),
            Match::Bool => {
                return values.iter().any(|v| match v {
                    Sample::Bool(b) => *b,
                    Sample::Int(i) => *i != 0,
                    Sample::Str(s) => !s.is_empty(),
                    Sample::Ip(_) => true,
                })
            }
            _ => {}
        }
        values
            .into_iter()
            .any(|v| matches(a, &self.convert(v, &a.expr.conv)))
    }

    /// Whether a condition holds.
    pub fn eval(&self, c: &Condition) -> bool {
        let any = c.any_of.iter().any(|group| {
            group
                .iter()
                .all(|t| t.acls.iter().any(|a| self.acl(a)) != t.negate)
        });
        any != c.unless
    }

    /// Whether an optional condition holds (`None`: always).
    pub fn holds(&self, c: Option<&Condition>) -> bool {
        c.is_none_or(|c| self.eval(c))
    }
}

/// Whether one sample matches one of an ACL's patterns.
fn matches(a: &Acl, v: &Sample<'_>) -> bool {
    match &a.patterns {
        Patterns::Nets(nets) => match v {
            Sample::Ip(ip) => nets.iter().any(|n| n.contains(*ip)),
            Sample::Str(s) => s
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| nets.iter().any(|n| n.contains(ip))),
            _ => false,
        },
        Patterns::Ints(ranges) => {
            let n = match (a.method, v) {
                (Match::Len, v) => Some(v.text().len() as i64),
                (_, Sample::Int(i)) => Some(*i),
                (_, Sample::Bool(b)) => Some(i64::from(*b)),
                (_, v) => v.text().trim().parse::<i64>().ok(),
            };
            n.is_some_and(|n| ranges.iter().any(|r| r.contains(n)))
        }
        Patterns::Regex(res) => {
            let t = v.text();
            res.iter().any(|r| r.0.is_match(&t))
        }
        Patterns::Text(pats) => {
            let t = v.text();
            let t = if a.ignore_case {
                Cow::Owned(t.to_ascii_lowercase())
            } else {
                t
            };
            pats.iter().any(|p| text_match(a.method, &t, p))
        }
        Patterns::None => false,
    }
}

fn text_match(m: Match, s: &str, p: &str) -> bool {
    match m {
        Match::Beg => s.starts_with(p),
        Match::End => s.ends_with(p),
        Match::Sub => s.contains(p),
        Match::Dom => delimited(s, p, &['/', '?', '.', ':']),
        Match::Dir => delimited(s, p, &['/', '?']),
        _ => s == p,
    }
}

/// Whether `p` occurs in `s` bounded on both sides by a delimiter or an end.
fn delimited(s: &str, p: &str, delims: &[char]) -> bool {
    let p = p.trim_matches(|c| delims.contains(&c));
    if p.is_empty() {
        return false;
    }
    let bound = |c: Option<char>| c.is_none_or(|c| delims.contains(&c));
    s.match_indices(p)
        .any(|(i, _)| bound(s[..i].chars().next_back()) && bound(s[i + p.len()..].chars().next()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str_offline;

    struct Req(&'static str, Vec<(&'static str, &'static str)>);
    impl HttpView for Req {
        fn method(&self) -> &str {
            "GET"
        }
        fn uri(&self) -> &str {
            self.0
        }
        fn version(&self) -> &str {
            "1.1"
        }
        fn each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
            for (n, v) in &self.1 {
                if n.eq_ignore_ascii_case(name) {
                    f(v.as_bytes());
                }
            }
        }
    }

    fn conn(tls: bool) -> ConnInfo {
        ConnInfo {
            peer: "198.18.0.7:40000".parse().expect("addr"),
            local: "198.18.0.1:443".parse().expect("addr"),
            tls: tls.then(|| crate::net::TlsInfo {
                sni: Some("www.a.test".into()),
                protocol: "TLSv1.3",
                alpn: Some(b"h2".to_vec()),
                cipher: "TLS_AES_128_GCM_SHA256",
            }),
        }
    }

    /// The condition of the first `http-request` rule of frontend `f` in `rules`.
    fn cond(rules: &str) -> Condition {
        let text = format!("frontend f\n bind :1\n{rules}\n default_backend b\nbackend b\n");
        let l = parse_str_offline("t", &text).unwrap_or_else(|e| panic!("{e}"));
        l.config.frontends[0].http_request[0]
            .cond
            .clone()
            .expect("a condition")
    }

    #[test]
    fn acls_over_connection_and_request() {
        let req = Req(
            "/api/v1?x=1",
            vec![("Host", "Www.A.test:443"), ("X-L", "a, b"), ("X-L", "c")],
        );
        let c = conn(true);
        let s = Sampler {
            conn: &c,
            req: Some(&req),
            res: None,
        };
        let yes = |r: &str| s.eval(&cond(r));
        assert!(yes(" http-request deny if { ssl_fc }"));
        assert!(!yes(" http-request deny unless { ssl_fc }"));
        assert!(yes(" http-request deny if { src 198.18.0.0/15 }"));
        assert!(!yes(" http-request deny if { src 10.0.0.0/8 }"));
        assert!(yes(" http-request deny if { path_beg /api }"));
        assert!(yes(" http-request deny if { path_reg ^/api/v[0-9]+$ }"));
        assert!(yes(" http-request deny if { hdr_dom(host) -i a.test }"));
        assert!(!yes(" http-request deny if { hdr_dom(host) -i w.a }"));
        assert!(
            yes(" http-request deny if { hdr(x-l) b }"),
            "comma-split values"
        );
        assert!(yes(" http-request deny if { hdr_cnt(x-l) 2 }"));
        assert!(yes(" http-request deny if { ssl_fc_sni -m end .a.test }"));
        assert!(yes(" http-request deny if { dst_port 443 } METH_GET"));
        assert!(yes(" http-request deny if { query -m sub x= } || FALSE"));
        assert!(!yes(
            " http-request deny if { url_beg /x } or { ssl_fc_protocol TLSv1.2 }"
        ));
        assert!(
            yes(" acl a path /nope\n acl a path /api/v1\n http-request deny if a"),
            "definitions are ORed"
        );
        let plain = conn(false);
        let s = Sampler {
            conn: &plain,
            req: Some(&req),
            res: None,
        };
        assert!(s.eval(&cond(" http-request deny unless { ssl_fc }")));
        assert!(!s.eval(&cond(" http-request deny if { ssl_fc_sni -m found }")));
    }

    #[test]
    fn formats_take_the_last_value() {
        let req = Req("/", vec![("host", "a.test"), ("host", "b.test")]);
        let c = conn(true);
        let s = Sampler {
            conn: &c,
            req: Some(&req),
            res: None,
        };
        let f = crate::config::sample::parse_format(
            "%[src] %[req.hdr(host),upper] %[ssl_fc] %[req.hdr(host,1)]",
        )
        .expect("format");
        assert_eq!(s.format(&f), "198.18.0.7 B.TEST 1 a.test");
    }

    #[test]
    fn delimited_words() {
        assert!(delimited("www.a.test", "a.test", &['.']));
        assert!(!delimited("www.xa.test", "a.test", &['.']));
        assert!(delimited("/img/x.png", "img", &['/', '?']));
    }
}
