//! Every keyword of the keyword reference (the parser's own tables) loads as its status
//! says: a supported one, used as in its example inside a minimal configuration, loads
//! without any diagnostic; a warned one loads with one warning; a refused one is an error on
//! its line. And a keyword no table lists is an error in every context.

#![allow(clippy::unwrap_used)]

use l7_proxy::config::{keyword_reference, parse_str, ConfigError, KeywordStatus, Severity};

/// Backends the examples name.
const BASE: &str = "backend app\n    server a 127.0.0.1:2\nbackend api\n    server a 127.0.0.1:3\n";

/// The configurations that use `text` in `context` (two for the TLS options: on a bind
/// line and on a server line).
fn configs(context: &str, text: &str) -> Vec<String> {
    let listen = |line: &str| format!("listen t\n    bind 127.0.0.1:0\n    {line}\n{BASE}");
    let tls_bind = "bind 127.0.0.1:0 ssl crt /etc/haproxy/site.pem";
    match context {
        "section" => vec![format!("{text}\n{BASE}")],
        "global" => vec![format!("global\n    {text}\n{BASE}")],
        "proxy" => vec![listen(text)],
        "option" => vec![listen(&format!("option {text}"))],
        "bind" => vec![format!("listen t\n    {tls_bind} {text}\n{BASE}")],
        "server" => vec![listen(&format!("server s 127.0.0.1:1 {text}"))],
        "tls" => vec![
            format!("listen t\n    {tls_bind} {text}\n{BASE}"),
            listen(&format!(
                "server s 127.0.0.1:1 ssl ca-file @system-ca {text}"
            )),
        ],
        "http-request" | "http-response" | "tcp-request" => {
            vec![listen(&format!("{context} {text}"))]
        }
        "tcp-request action" => vec![listen(&format!("tcp-request connection {text}"))],
        "fetch" | "converter" => vec![listen(&format!("http-response set-header x-t %[{text}]"))],
        other => panic!("a context with no minimal configuration in this test: {other}"),
    }
}

/// The 1-based line where `text` starts in `config`.
fn line_of(config: &str, text: &str) -> usize {
    let at = config
        .find(text)
        .expect("the example is in the configuration");
    config[..at].matches('\n').count() + 1
}

#[test]
fn every_keyword_loads_as_its_status_says() {
    let dir = tempfile::tempdir().unwrap();
    let errorfile = dir.path().join("503.http");
    std::fs::write(&errorfile, "HTTP/1.0 503 Service Unavailable\r\n\r\n").unwrap();
    let mut checked = 0;
    for context in keyword_reference() {
        for kw in &context.keywords {
            // The one example that reads a file when it loads.
            let example = kw.example.replace(
                "/etc/haproxy/errors/503.http",
                &errorfile.display().to_string(),
            );
            for text in configs(context.name, &example) {
                let what = format!("{} {} ({:?})\n{text}", context.name, kw.name, kw.status);
                let loaded = parse_str("t.cfg", &text);
                match (kw.status, loaded) {
                    (KeywordStatus::Supported, Ok(l)) => {
                        assert!(l.warnings.is_empty(), "{what}\n{:?}", l.warnings)
                    }
                    (KeywordStatus::Warned, Ok(l)) => {
                        assert_eq!(l.warnings.len(), 1, "{what}\n{:?}", l.warnings);
                        assert_eq!(l.warnings[0].line, line_of(&text, &example), "{what}");
                    }
                    (KeywordStatus::Refused, Err(ConfigError::Invalid { diagnostics })) => {
                        let line = line_of(&text, &example);
                        assert!(
                            diagnostics
                                .iter()
                                .any(|d| d.severity == Severity::Error && d.line == line),
                            "{what}\n{diagnostics:?}"
                        );
                    }
                    (_, Ok(l)) => panic!("{what}: loaded, warnings {:?}", l.warnings),
                    (_, Err(e)) => panic!("{what}: {e}"),
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 400, "{checked} keywords");
}

#[test]
fn a_keyword_is_listed_once_per_context() {
    for context in keyword_reference() {
        let mut names: Vec<_> = context.keywords.iter().map(|k| k.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "{}: {names:?}", context.name);
    }
}

#[test]
fn a_keyword_no_table_lists_is_an_error_in_every_context() {
    for context in keyword_reference() {
        for text in configs(context.name, "no-such-keyword") {
            match parse_str("t.cfg", &text) {
                Err(ConfigError::Invalid { diagnostics }) => {
                    assert!(
                        diagnostics.iter().any(|d| d.severity == Severity::Error
                            && d.message.contains("no-such-keyword")),
                        "{}: {diagnostics:?}",
                        context.name
                    )
                }
                other => panic!("{}: {other:?}\n{text}", context.name),
            }
        }
    }
}
