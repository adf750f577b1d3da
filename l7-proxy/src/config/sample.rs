//! Sample fetches (`src`, `ssl_fc`, `req.hdr(host)`, ...) with their converters, and the
//! log-format strings that embed them (`%[src]`), as ACLs and rules use them.

use super::keywords::{listed, CONVERTERS, FETCHES};

/// What a sample fetch reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// `src`: the client's address.
    Src,
    /// `src_port`.
    SrcPort,
    /// `dst`: the address the client connected to.
    Dst,
    /// `dst_port`.
    DstPort,
    /// `ssl_fc`: the client connection is TLS.
    SslFc,
    /// `ssl_fc_sni`: the server name the client sent.
    SslFcSni,
    /// `ssl_fc_protocol`: `TLSv1.2`, `TLSv1.3`.
    SslFcProtocol,
    /// `ssl_fc_alpn`: the negotiated application protocol.
    SslFcAlpn,
    /// `ssl_fc_cipher`: the suite's name.
    SslFcCipher,
    /// `method`.
    Method,
    /// `path`: the path without the query.
    Path,
    /// `url`: the request target as sent.
    Url,
    /// `query`: the part after `?`.
    Query,
    /// `base`: Host and path.
    Base,
    /// `req.ver`: `1.1`, `2.0`.
    ReqVer,
    /// `req.hdr(NAME[,OCC])` / `hdr(NAME)`: values of a request header, split on commas.
    ReqHdr(String, Option<i32>),
    /// `req.fhdr(NAME)`: whole values of a request header.
    ReqFhdr(String, Option<i32>),
    /// `req.hdr_cnt(NAME)`.
    ReqHdrCnt(String),
    /// `res.hdr(NAME[,OCC])` / `shdr(NAME)`: values of a response header.
    ResHdr(String, Option<i32>),
    /// `status`: the response status.
    Status,
    /// `str(TEXT)`, `env(NAME)` (read when the configuration loads).
    Const(String),
    /// `always_true`, `always_false`.
    Bool(bool),
}

/// Where a fetch's data comes from, which decides where it may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// A constant.
    Const,
    /// The connection (addresses, TLS): everywhere, TCP mode included.
    Connection,
    /// The HTTP request.
    Request,
    /// The HTTP response: `http-response` rules only.
    Response,
}

impl Fetch {
    /// Where this fetch's data comes from.
    pub fn scope(&self) -> Scope {
        match self {
            Fetch::Const(_) | Fetch::Bool(_) => Scope::Const,
            Fetch::Src
            | Fetch::SrcPort
            | Fetch::Dst
            | Fetch::DstPort
            | Fetch::SslFc
            | Fetch::SslFcSni
            | Fetch::SslFcProtocol
            | Fetch::SslFcAlpn
            | Fetch::SslFcCipher => Scope::Connection,
            Fetch::ResHdr(..) | Fetch::Status => Scope::Response,
            _ => Scope::Request,
        }
    }
}

/// A converter applied to a fetched sample (`,lower`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converter {
    /// `lower`.
    Lower,
    /// `upper`.
    Upper,
}

/// A fetch and its converters: `req.hdr(host),lower`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// The fetch.
    pub fetch: Fetch,
    /// Converters, applied in order.
    pub conv: Vec<Converter>,
}

/// Splits `name(args)` into the name and its comma-separated arguments.
fn call(s: &str) -> Result<(&str, Vec<&str>), String> {
    match s.find('(') {
        None => Ok((s, Vec::new())),
        Some(p) => {
            let inner = s[p + 1..]
                .strip_suffix(')')
                .ok_or_else(|| format!("missing ')' in '{s}'"))?;
            let args = if inner.is_empty() {
                Vec::new()
            } else {
                inner.split(',').map(str::trim).collect()
            };
            Ok((&s[..p], args))
        }
    }
}

/// Splits at the top-level commas (those outside parentheses).
fn top_level_commas(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Parses a fetch name with its arguments (`req.hdr(host,1)`), without converters.
pub fn parse_fetch(s: &str) -> Result<Fetch, String> {
    let (name, args) = call(s)?;
    let no_args = |f: Fetch| {
        if args.is_empty() {
            Ok(f)
        } else {
            Err(format!("fetch '{name}' takes no argument"))
        }
    };
    let header = |args: &[&str]| -> Result<(String, Option<i32>), String> {
        let Some(h) = args.first().filter(|h| !h.is_empty()) else {
            return Err(format!("fetch '{name}' needs a header name: {name}(host)"));
        };
        let occ = match args.get(1) {
            None => None,
            Some(o) => Some(
                o.parse::<i32>()
                    .map_err(|_| format!("invalid occurrence '{o}' in '{s}'"))?,
            ),
        };
        Ok((h.to_ascii_lowercase(), occ))
    };
    if !listed(FETCHES, name) {
        return Err(format!("sample fetch '{name}' is not supported"));
    }
    match name {
        "src" => no_args(Fetch::Src),
        "src_port" => no_args(Fetch::SrcPort),
        "dst" => no_args(Fetch::Dst),
        "dst_port" => no_args(Fetch::DstPort),
        "ssl_fc" => no_args(Fetch::SslFc),
        "ssl_fc_sni" => no_args(Fetch::SslFcSni),
        "ssl_fc_protocol" => no_args(Fetch::SslFcProtocol),
        "ssl_fc_alpn" => no_args(Fetch::SslFcAlpn),
        "ssl_fc_cipher" => no_args(Fetch::SslFcCipher),
        "method" => no_args(Fetch::Method),
        "path" => no_args(Fetch::Path),
        "url" => no_args(Fetch::Url),
        "query" => no_args(Fetch::Query),
        "base" => no_args(Fetch::Base),
        "req.ver" | "req_ver" => no_args(Fetch::ReqVer),
        "status" => no_args(Fetch::Status),
        "always_true" => no_args(Fetch::Bool(true)),
        "always_false" => no_args(Fetch::Bool(false)),
        "req.hdr" | "hdr" => header(&args).map(|(h, o)| Fetch::ReqHdr(h, o)),
        "req.fhdr" => header(&args).map(|(h, o)| Fetch::ReqFhdr(h, o)),
        "req.hdr_cnt" | "hdr_cnt" => header(&args).map(|(h, _)| Fetch::ReqHdrCnt(h)),
        "res.hdr" | "shdr" => header(&args).map(|(h, o)| Fetch::ResHdr(h, o)),
        "str" => Ok(Fetch::Const(args.join(","))),
        "env" => match args.as_slice() {
            [v] => Ok(Fetch::Const(std::env::var(v).unwrap_or_default())),
            _ => Err("fetch 'env' needs one variable name: env(NAME)".into()),
        },
        other => Err(format!(
            "sample fetch '{other}' is listed as supported but not handled (a bug in lbproxy)"
        )),
    }
}

/// Parses `fetch[,converter...]`.
pub fn parse_expr(s: &str) -> Result<Expr, String> {
    let parts = top_level_commas(s);
    let fetch = parse_fetch(parts[0].trim())?;
    let mut conv = Vec::new();
    for c in &parts[1..] {
        let c = c.trim();
        if !listed(CONVERTERS, c) {
            return Err(format!("converter '{c}' is not supported"));
        }
        conv.push(match c {
            "lower" => Converter::Lower,
            "upper" => Converter::Upper,
            other => {
                return Err(format!(
                    "converter '{other}' is listed as supported but not handled (a bug in lbproxy)"
                ))
            }
        });
    }
    Ok(Expr { fetch, conv })
}

/// A piece of a log-format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatPart {
    /// Literal text.
    Lit(String),
    /// `%[expr]`.
    Expr(Expr),
}

/// A log-format string, as header values and redirect targets use them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogFormat {
    /// The pieces in order.
    pub parts: Vec<FormatPart>,
}

impl LogFormat {
    /// A format that is only `text` (`string` bodies take no `%[...]`).
    pub fn literal_text(text: &str) -> LogFormat {
        LogFormat {
            parts: vec![FormatPart::Lit(text.to_string())],
        }
    }

    /// The widest scope of the fetches used.
    pub fn scope(&self) -> Scope {
        self.parts
            .iter()
            .map(|p| match p {
                FormatPart::Lit(_) => Scope::Const,
                FormatPart::Expr(e) => e.fetch.scope(),
            })
            .max()
            .unwrap_or(Scope::Const)
    }

    /// The literal text, when there is no fetch.
    pub fn literal(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                FormatPart::Lit(l) => s.push_str(l),
                FormatPart::Expr(_) => return None,
            }
        }
        Some(s)
    }
}

/// Parses a log-format string: `%[expr]` is a sample, `%%` a percent sign; the other
/// `%X` variables of HAProxy's log formats are not supported in values.
pub fn parse_format(s: &str) -> Result<LogFormat, String> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    while let Some(p) = rest.find('%') {
        lit.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        if let Some(a) = after.strip_prefix('%') {
            lit.push('%');
            rest = a;
        } else if let Some(a) = after.strip_prefix('[') {
            let end = a
                .find(']')
                .ok_or_else(|| format!("missing ']' after '%[' in '{s}'"))?;
            if !lit.is_empty() {
                parts.push(FormatPart::Lit(std::mem::take(&mut lit)));
            }
            parts.push(FormatPart::Expr(parse_expr(&a[..end])?));
            rest = &a[end + 1..];
        } else {
            let var: String = after.chars().take(3).collect();
            return Err(format!(
                "log-format variable '%{var}...' is not supported in values (use %[fetch])"
            ));
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(FormatPart::Lit(lit));
    }
    Ok(LogFormat { parts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_and_converters() {
        assert_eq!(
            parse_expr("req.hdr(Host),lower"),
            Ok(Expr {
                fetch: Fetch::ReqHdr("host".into(), None),
                conv: vec![Converter::Lower]
            })
        );
        assert_eq!(
            parse_fetch("hdr(x-a,-1)"),
            Ok(Fetch::ReqHdr("x-a".into(), Some(-1)))
        );
        assert!(parse_fetch("hdr()").is_err());
        assert!(parse_fetch("sc0_http_req_rate").is_err());
        assert!(parse_expr("src,ipmask(24)").is_err());
        assert_eq!(parse_fetch("str(a,b)"), Ok(Fetch::Const("a,b".into())));
    }

    #[test]
    fn formats() {
        let f = parse_format("%[src]:%[dst_port] 100%%").expect("valid");
        assert_eq!(f.parts.len(), 4);
        assert_eq!(f.parts[3], FormatPart::Lit(" 100%".into()));
        assert_eq!(f.scope(), Scope::Connection);
        assert_eq!(
            parse_format("https").expect("valid").literal().as_deref(),
            Some("https")
        );
        assert!(parse_format("%[src").is_err());
        assert!(parse_format("%ci").is_err());
        std::env::set_var("HALB_SAMPLE_TEST", "v1");
        assert_eq!(
            parse_format("x-%[env(HALB_SAMPLE_TEST)]").map(|f| f.parts[1].clone()),
            Ok(FormatPart::Expr(Expr {
                fetch: Fetch::Const("v1".into()),
                conv: vec![]
            }))
        );
    }
}
