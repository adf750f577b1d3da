//! Responses the proxy writes itself: error pages (HAProxy's, or an `errorfile`),
//! `deny`/`return` replies, redirects and the statistics page. Each is a complete raw
//! HTTP/1.1 message; the session sends it as is (HTTP/1.1) or converted (HTTP/2).

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Redirect, RedirectKind, Reply, ReplyBody};
use crate::frontend::sample::Sampler;
use crate::http::h1::request::RequestHead;

/// HAProxy's reason phrase and text for an error status.
fn error_text(status: u16) -> (&'static str, &'static str) {
    match status {
        200 => ("OK", "Service ready."),
        400 => ("Bad request", "Your browser sent an invalid request."),
        401 => ("Unauthorized", "You need a valid user and password to access this content."),
        403 => ("Forbidden", "Request forbidden by administrative rules."),
        404 => ("Not Found", "The resource could not be found."),
        405 => ("Method Not Allowed", "A request was made of a resource using a request method not supported by that resource."),
        407 => ("Unauthorized", "You need a valid user and password to access this content."),
        410 => ("Gone", "The resource is no longer available and will not be available again."),
        425 => ("Too Early", "Your browser sent early data."),
        429 => ("Too Many Requests", "You have sent too many requests in a given amount of time."),
        408 => (
            "Request Timeout",
            "Your browser didn't send a complete request in time.",
        ),
        413 => (
            "Payload Too Large",
            "The request entity exceeds the maximum allowed size.",
        ),
        414 => ("URI Too Long", "The request URI is too long."),
        431 => (
            "Request Header Fields Too Large",
            "The request header fields are too large.",
        ),
        501 => (
            "Not Implemented",
            "The server does not support the functionality required to fulfill the request.",
        ),
        502 => (
            "Bad Gateway",
            "The server returned an invalid or incomplete response.",
        ),
        503 => (
            "Service Unavailable",
            "No server is available to handle this request.",
        ),
        504 => ("Gateway Timeout", "The server didn't respond in time."),
        _ => (
            "Internal Server Error",
            "An internal server error occurred.",
        ),
    }
}

/// The HTML page of an error status, as HAProxy words it.
pub fn error_body(status: u16) -> String {
    let (reason, text) = error_text(status);
    format!("<html><body><h1>{status} {reason}</h1>\n{text}\n</body></html>\n")
}

/// The full response (head and body) for an error status.
pub fn error_response(status: u16) -> Vec<u8> {
    let body = error_body(status);
    let (reason, _) = error_text(status);
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The error page for `status`: the proxy's `errorfile` if it has one, else HAProxy's.
pub fn error_page(status: u16, errorfiles: &HashMap<u16, Arc<[u8]>>) -> Vec<u8> {
    match errorfiles.get(&status) {
        Some(f) => f.to_vec(),
        None => error_response(status),
    }
}

/// A generated response: status line, fields, `content-length`, body.
pub fn generated(status: u16, fields: &[(&str, &str)], body: &[u8], close: bool) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    for (n, v) in fields {
        super::h1::headers::push_field(&mut out, n.as_bytes(), v.as_bytes());
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A `deny` (`close`) or `return` response.
pub fn reply(
    r: &Reply,
    s: &Sampler<'_>,
    errorfiles: &HashMap<u16, Arc<[u8]>>,
    close: bool,
) -> Vec<u8> {
    let body: Vec<u8> = match &r.body {
        ReplyBody::Default if close => return error_page(r.status, errorfiles),
        ReplyBody::Default => Vec::new(),
        ReplyBody::Text(f) => s.format(f).into_bytes(),
        ReplyBody::File(b) => b.to_vec(),
    };
    let values: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(n, f)| (n.clone(), s.format(f)))
        .collect();
    let mut fields: Vec<(&str, &str)> = values
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    if let Some(ct) = &r.content_type {
        fields.push(("content-type", ct));
    }
    generated(r.status, &fields, &body, close)
}

/// A redirect (HAProxy's forms): `location` as given, `prefix` before the original URI,
/// `scheme` with the original host and URI.
pub fn redirect(r: &Redirect, s: &Sampler<'_>, head: &RequestHead) -> Vec<u8> {
    let target = s.format(&r.target);
    let uri = head.uri();
    let mut path = match r.drop_query {
        true => uri.split('?').next().unwrap_or(uri).to_string(),
        false => uri.to_string(),
    };
    if r.append_slash && !path.ends_with('/') {
        path.push('/');
    }
    let location = match r.kind {
        RedirectKind::Location => target,
        RedirectKind::Prefix if target == "/" => path,
        RedirectKind::Prefix => format!("{}{path}", target.trim_end_matches('/')),
        RedirectKind::Scheme => {
            let host = head
                .header("host")
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .unwrap_or_default();
            format!("{target}://{host}{path}")
        }
    };
    let mut fields = vec![("location", location.as_str())];
    fields.extend(r.cookies.iter().map(|c| ("set-cookie", c.as_str())));
    generated(r.code, &fields, b"", false)
}

/// Whether a request carries one of the `stats auth` credentials (RFC 7617 Basic); true
/// when none is configured.
pub fn stats_authorized(users: &[(String, String)], head: &RequestHead) -> bool {
    use base64::Engine;
    if users.is_empty() {
        return true;
    }
    let Some(v) = head.header("authorization") else {
        return false;
    };
    let v = v.trim_ascii();
    let Some(b64) = v
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case(b"basic "))
        .map(|_| &v[6..])
    else {
        return false;
    };
    let Ok(creds) = base64::engine::general_purpose::STANDARD.decode(b64.trim_ascii()) else {
        return false;
    };
    // Every pair is compared in full, so the time taken does not tell how much matched.
    users.iter().fold(false, |ok, (u, p)| {
        let want = [u.as_bytes(), b":", p.as_bytes()].concat();
        ok | same_bytes(&want, &creds)
    })
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The 401 asking for the statistics page's credentials.
pub fn stats_unauthorized(realm: Option<&str>) -> Vec<u8> {
    let realm = realm.unwrap_or("HAProxy Statistics").replace('"', "'");
    let body = error_body(401);
    generated(
        401,
        &[
            ("cache-control", "no-cache"),
            ("content-type", "text/html"),
            ("www-authenticate", &format!("Basic realm=\"{realm}\"")),
        ],
        body.as_bytes(),
        false,
    )
}

/// The statistics page of `view` as proxy settings `s` show it: CSV with `;csv` in the
/// URI, HTML otherwise; `;norefresh` turns `stats refresh` off (HAProxy's `Refresh`
/// header).
pub fn stats(
    view: &crate::stats::StatsView,
    s: &crate::config::ProxySettings,
    uri: &str,
    close: bool,
) -> Vec<u8> {
    let norefresh = uri.contains(";norefresh");
    let (body, ctype) = if uri.contains(";csv") {
        (view.csv(), "text/plain")
    } else {
        let page = crate::stats::html::Page {
            uri: s.stats_uri.as_deref().unwrap_or(uri),
            refresh: s.stats_refresh,
            norefresh,
            hide_version: s.stats_hide_version,
            show_legends: s.stats_show_legends,
            process: Vec::new(),
        };
        (view.html(page), "text/html")
    };
    let refresh = s
        .stats_refresh
        .filter(|_| !norefresh)
        .map(|d| d.as_secs().max(1).to_string());
    let mut headers = vec![("content-type", ctype), ("cache-control", "no-cache")];
    if let Some(r) = &refresh {
        headers.push(("refresh", r));
    }
    generated(200, &headers, body.as_bytes(), close)
}

/// `use-service prometheus-exporter`: the statistics in Prometheus text format.
pub fn prometheus(view: &crate::stats::StatsView, close: bool) -> Vec<u8> {
    let body = view.prometheus();
    let headers = [
        ("content-type", "text/plain; version=0.0.4"),
        ("cache-control", "no-cache"),
    ];
    generated(200, &headers, body.as_bytes(), close)
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_length_matches_body() {
        for s in [400, 403, 408, 413, 414, 429, 431, 501, 502, 503, 504, 500] {
            let r = String::from_utf8(super::error_response(s)).unwrap_or_default();
            let (head, body) = r.split_once("\r\n\r\n").unwrap_or_default();
            assert!(head.starts_with(&format!("HTTP/1.1 {s} ")));
            assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        }
    }
}
