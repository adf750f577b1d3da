//! haproxy.cfg parsing: inheritance, diagnostics with positions, sample files, and no panic
//! on garbage.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use l7_proxy::config::{
    load_files, parse_str, parse_str_offline, parse_time, split_line, Balance, ConfigError, Fetch,
    HttpConnMode, LogConfig, LogTarget, Mode, ProxyLog, Severity,
};
use proptest::prelude::*;

fn errors(text: &str) -> Vec<String> {
    match parse_str("t.cfg", text) {
        Ok(_) => Vec::new(),
        Err(ConfigError::Invalid { diagnostics }) => diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect(),
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn defaults_are_inherited_and_overridden() {
    let l = parse_str(
        "t.cfg",
        "global\n maxconn 100\n nbthread 2\ndefaults\n mode tcp\n timeout connect 2s\n retries 5\n option redispatch\n\
         frontend f\n bind :8080\n default_backend b\n\
         backend b\n timeout connect 300\n balance leastconn\n default-server inter 1s rise 4\n server s1 127.0.0.1:1 check weight 7\n server s2 127.0.0.2:2 fall 9 backup\n\
         defaults\n mode http\n option http-server-close\n\
         listen l\n bind 127.0.0.1:9000\n server x 127.0.0.1:3\n",
    )
    .unwrap();
    let c = l.config;
    assert_eq!(c.global.maxconn, Some(100));
    assert_eq!(c.global.nbthread, Some(2));
    let b = c.backend("b").unwrap();
    assert_eq!(b.settings.mode, Mode::Tcp);
    assert_eq!(
        b.settings.timeouts.connect,
        Some(Duration::from_millis(300))
    );
    assert_eq!(b.settings.retries, 5);
    assert!(b.settings.redispatch);
    assert_eq!(b.settings.balance, Balance::LeastConn);
    assert_eq!(b.servers[0].params.inter, Duration::from_secs(1));
    assert_eq!(b.servers[0].params.rise, 4);
    assert_eq!(b.servers[0].params.weight, 7);
    assert!(b.servers[0].params.check);
    assert_eq!(b.servers[1].params.fall, 9);
    assert!(b.servers[1].params.backup);
    // The second defaults section starts afresh: the listen is http, no redispatch.
    let l = c.backend("l").unwrap();
    assert_eq!(l.settings.mode, Mode::Http);
    assert!(!l.settings.redispatch);
    assert_eq!(l.settings.conn_mode, HttpConnMode::ServerClose);
    let fl = c.frontends.iter().find(|f| f.name == "l").unwrap();
    assert_eq!(fl.default_backend.as_deref(), Some("l"));
    assert_eq!(fl.binds[0].addr, "127.0.0.1:9000".parse().unwrap());
    let ff = c.frontends.iter().find(|f| f.name == "f").unwrap();
    assert_eq!(ff.binds[0].addr, "0.0.0.0:8080".parse().unwrap());
}

#[test]
fn acls_conditions_and_binds() {
    let l = parse_str(
        "t.cfg",
        "frontend f\n bind 127.0.0.1:1,127.0.0.1:2 ssl crt /x.pem alpn h2,http/1.1\n acl api path_beg /api\n acl h hdr(Host) -i a.test\n\
         use_backend b if api !h or { path /x }\n use_backend b unless h\n default_backend b\nbackend b\n server s localhost:80\n",
    )
    .unwrap();
    let f = &l.config.frontends[0];
    assert_eq!(f.binds.len(), 2);
    let tls = f.binds[1].tls.as_ref().unwrap();
    assert_eq!(tls.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(
        f.acls["h"][0].expr.fetch,
        Fetch::ReqHdr("host".into(), None)
    );
    assert!(f.acls["h"][0].ignore_case);
    let c = f.use_backends[0].cond.as_ref().unwrap();
    assert_eq!(c.any_of.len(), 2);
    assert!(c.any_of[0][1].negate);
    assert!(f.use_backends[1].cond.as_ref().unwrap().unless);
    // localhost resolved at load time.
    assert!(l.config.backends[0].servers[0].addr.ip().is_loopback());
    assert_eq!(tls.crt, vec![std::path::PathBuf::from("/x.pem")]);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn errors_have_file_line_and_column() {
    let e = errors(
        "defaults\n  timeout client 10q\nfrontend f\n bind :80\n use_backend nope\n frob x\n",
    );
    assert!(
        e.iter()
            .any(|d| d.starts_with("t.cfg:2:18: error: invalid time value '10q'")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|d| d.starts_with("t.cfg:5:14: error:") && d.contains("unknown backend 'nope'")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|d| d.starts_with("t.cfg:6:2: error: unknown keyword 'frob'")),
        "{e:?}"
    );
    assert!(!errors("backend b\n server s 127.0.0.1:1 weight 300\n").is_empty());
    assert!(!errors("backend b\n server s 127.0.0.1\n").is_empty());
    assert!(!errors("backend b\n server s :80\n").is_empty());
    assert!(!errors("backend b\n server s 127.0.0.1:1\n server s 127.0.0.1:2\n").is_empty());
    assert!(!errors(
        "frontend f\n mode tcp\n bind :1\n default_backend b\nbackend b\n mode http\n"
    )
    .is_empty());
    assert!(!errors("frontend f\n bind :1\n use_backend b if nosuchacl\nbackend b\n").is_empty());
    assert!(!errors("option httplog\n").is_empty());
    assert!(!errors("defaults\n option frobnicate\n").is_empty());
    assert!(!errors("defaults\n balance rendezvous\n").is_empty());
    assert!(!errors("frontend f\n bind :1\nfrontend g\n bind :1\n").is_empty());
}

/// `log` lines of a proxy: inherited from `defaults`, added to, cleared by `no log`; `log
/// global` expands to the global targets, each target once.
#[test]
fn proxy_log_lines() {
    let l = parse_str(
        "t.cfg",
        "global\n log 127.0.0.1:514 local0\n\
         defaults\n mode http\n log global\n\
         frontend inherits\n bind :1\n\
         frontend adds\n bind :2\n log 127.0.0.1:1514 len 1024 local3 info\n log global\n\
         frontend quiet\n bind :3\n no log\n\
         frontend own\n bind :4\n no log\n log /dev/log local1\n",
    )
    .unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.config;
    let global = LogConfig {
        target: LogTarget::Udp("127.0.0.1:514".parse().unwrap()),
        facility: 16,
    };
    let second = LogConfig {
        target: LogTarget::Udp("127.0.0.1:1514".parse().unwrap()),
        facility: 19,
    };
    let fe = |n: &str| c.frontends.iter().find(|f| f.name == n).unwrap();
    assert_eq!(fe("inherits").settings.logs, vec![ProxyLog::Global]);
    assert_eq!(
        fe("inherits").settings.log_targets(&c.global.logs),
        vec![global.clone()]
    );
    // `log global` twice (defaults, then the frontend) still sends each line once.
    assert_eq!(
        fe("adds").settings.log_targets(&c.global.logs),
        vec![global.clone(), second]
    );
    assert!(fe("quiet").settings.logs.is_empty());
    assert_eq!(
        fe("own").settings.log_targets(&c.global.logs),
        vec![LogConfig {
            target: LogTarget::Unix("/dev/log".into()),
            facility: 17,
        }]
    );
    // A bad target or facility in a proxy is an error at its position, as in `global`.
    let e = errors("frontend f\n bind :1\n log 127.0.0.1:514 local9\n");
    assert!(e.iter().any(|e| e.contains("t.cfg:3:")), "{e:?}");
    let e = errors("frontend f\n bind :1\n no log now\n");
    assert!(e.iter().any(|e| e.contains("t.cfg:3:2")), "{e:?}");
}

#[test]
fn unsupported_keywords_are_warnings() {
    let l = parse_str(
        "t.cfg",
        "global\n chroot /x\n tune.bufsize 32768\n daemon\npeers p\n peer a 127.0.0.1:1\ndefaults\n option http-buffer-request\n\
         compression algo gzip\nfrontend f\n bind :1 accept-proxy\n http-request capture req.hdr(host) len 10\nbackend b\n balance uri\n server s 127.0.0.1:1 send-proxy cookie a\n",
    )
    .unwrap();
    assert!(l.warnings.len() >= 9, "{:?}", l.warnings);
    assert!(l.warnings.iter().all(|w| w.severity == Severity::Warning));
    assert!(l
        .warnings
        .iter()
        .any(|w| w.message.contains("'send-proxy'") && w.line == 15));
}

/// What guards something is honoured or refused, never warned and skipped: access rules,
/// ACL criteria, TLS settings, authentication of the statistics page.
#[test]
fn guarding_keywords_are_refused_with_their_position() {
    let refused = [
        ("frontend f\n bind :1\n http-request auth realm x\n", 3, "http-request auth"),
        ("frontend f\n bind :1\n http-request tarpit if TRUE\n", 3, "tarpit"),
        ("frontend f\n bind :1\n tcp-request connection track-sc0 src\n", 3, "track-sc0"),
        ("frontend f\n bind :1\n acl x sc0_http_req_rate gt 10\n", 3, "sc0_http_req_rate"),
        ("frontend f\n bind :1\n acl x path -m frob /a\n", 3, "frob"),
        ("frontend f\n bind :1\n http-after-response set-header a b\n", 3, "http-after-response"),
        ("frontend f\n bind :1 ssl crt /x.pem sigalgs RSA+SHA256\n", 2, "sigalgs"),
        ("frontend f\n bind :1 ssl crt /x.pem ssl-max-ver TLSv1.1\n", 2, "no protocol version"),
        ("frontend f\n bind :1 ssl crt /x.pem ciphers RC4-SHA:DES-CBC3-SHA\n", 2, "no TLS 1.2 cipher"),
        ("frontend f\n bind :1 ssl crt /x.pem verify required\n", 2, "ca-file"),
        ("frontend f\n bind :1 crt /x.pem\n", 2, "needs 'ssl'"),
        ("frontend f\n bind :1 ssl\n", 2, "no certificate"),
        ("listen s\n bind :1\n stats enable\n stats http-request deny\n", 4, "stats http-request"),
        ("listen s\n bind :1\n stats auth nocolon\n", 3, "USER:PASSWORD"),
        ("backend b\n server s 127.0.0.1:1 ssl\n", 2, "no CA file"),
        ("frontend f\n bind :1\n mode tcp\n use_backend b if { path /x }\n default_backend b\nbackend b\n mode tcp\n", 4, "mode http"),
        ("frontend f\n bind :1\n tcp-request connection reject if { ssl_fc }\n", 3, "tcp-request content"),
        ("defaults\n http-request deny\n", 2, "not allowed in a defaults"),
        ("frontend f\n bind :1\n http-request use-service lua.x\n", 3, "unknown service 'lua.x'"),
        ("frontend f\n bind :1\n http-response use-service prometheus-exporter\n", 3, "'http-request' action"),
    ];
    for (text, line, what) in refused {
        let e = errors(text);
        assert!(
            e.iter()
                .any(|d| d.starts_with(&format!("t.cfg:{line}:")) && d.contains(what)),
            "{text:?}: expected an error on line {line} about {what:?}, got {e:?}"
        );
    }
}

#[test]
fn rules_tls_and_tcp_rules_load() {
    let l = parse_str(
        "t.cfg",
        "global\n ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets\n ssl-default-bind-ciphersuites TLS_AES_256_GCM_SHA384\n tune.h2.max-concurrent-streams 7\n\
         frontend f\n bind :443 ssl crt /c.pem alpn h2,http/1.1 strict-sni\n bind :80\n\
         tcp-request connection reject if { src 10.0.0.0/8 }\n\
         http-request redirect scheme https code 301 unless { ssl_fc }\n\
         http-request set-header X-Forwarded-Proto https if { ssl_fc }\n\
         http-request deny deny_status 429 if { path_beg /admin } !{ src 198.18.0.0/15 }\n\
         http-response del-header server\n redirect prefix /new if { path_beg /old }\n default_backend b\n\
         backend b\n http-request add-header x-sni %[ssl_fc_sni]\n server s 127.0.0.1:443 ssl verify none sni req.hdr(host) alpn http/1.1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let f = &l.config.frontends[0];
    let tls = f.binds[0].tls.as_ref().unwrap();
    assert_eq!(
        tls.params.versions(),
        Ok((false, true)),
        "global defaults inherited"
    );
    assert_eq!(tls.params.tickets, Some(false));
    assert!(tls.strict_sni);
    assert!(f.binds[1].tls.is_none());
    assert_eq!(l.config.global.h2.max_concurrent_streams, 7);
    assert_eq!(f.tcp_rules.len(), 1);
    // http-request rules, then the redirect rule.
    assert_eq!(f.http_request.len(), 4);
    assert_eq!(f.http_response.len(), 1);
    let b = l.config.backend("b").unwrap();
    assert_eq!(b.http_request.len(), 1);
    assert!(b.servers[0].params.ssl);
    assert_eq!(b.servers[0].params.tls.verify, Some(false));
}

#[test]
fn time_values() {
    assert_eq!(parse_time("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_time("500"), Some(Duration::from_millis(500)));
    assert_eq!(parse_time("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_time("1h"), Some(Duration::from_secs(3600)));
    assert_eq!(parse_time("s"), None);
    assert_eq!(parse_time("1y"), None);
    assert_eq!(parse_time("99999999999999999999d"), None);
}

#[test]
fn sample_files_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/haproxy");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "cfg") {
            n += 1;
            let r = load_files(&[&p]);
            if p.file_name().is_some_and(|f| f == "invalid.cfg") {
                let Err(ConfigError::Invalid { diagnostics }) = r else {
                    panic!("invalid.cfg loaded")
                };
                assert!(
                    diagnostics
                        .iter()
                        .filter(|d| d.severity == Severity::Error)
                        .count()
                        >= 5
                );
            } else {
                r.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            }
        }
    }
    assert!(n >= 5);
    // Two files in one load, like `-f a -f b`.
    let a = format!("{dir}/web-frontend-backend.cfg");
    let b = format!("{dir}/tcp-kube-api.cfg");
    let l = load_files(&[a, b]).unwrap();
    assert!(l.config.backend("control-plane").is_some());
    assert!(l.config.backend("web_servers").is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_garbage(s in "\\PC{0,400}") {
        let _ = parse_str_offline("fuzz.cfg", &s);
        let _ = split_line(&s);
    }
}

proptest! {
    // Fewer cases here: in debug builds proptest's generator, not the parser, dominates.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_keyword_soup(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![
                    Just("global"), Just("defaults"), Just("frontend"), Just("backend"), Just("listen"),
                    Just("bind"), Just("server"), Just("acl"), Just("use_backend"), Just("if"), Just("{"),
                    Just("}"), Just("!"), Just("option"), Just("timeout"), Just("balance"), Just("127.0.0.1:1"),
                    Just(":80"), Just("check"), Just("inter"), Just("10s"), Just("x"), Just("\""), Just("path_beg"),
                    Just("hdr(host)"), Just("default-server"), Just("http-check"), Just("expect"), Just("status"),
                    Just("no"), Just("or"), Just("from"), Just("ssl"), Just("crt"),
                ],
                0..8,
            ),
            0..20,
        )
    ) {
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        let _ = parse_str_offline("soup.cfg", &text);
    }
}

#[test]
fn httpchk_host_header_form() {
    let l = load_files(&[concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/haproxy/tcp-kube-api.cfg"
    )])
    .unwrap();
    let b = l.config.backend("control-plane").unwrap();
    let h = b.settings.httpchk.as_ref().unwrap();
    assert_eq!((h.method.as_str(), h.uri.as_str()), ("GET", "/readyz"));
    assert_eq!(h.host.as_deref(), Some("kubernetes"));
    assert_eq!(b.settings.expect_status, Some(200));
}

#[test]
fn http_check_send_form() {
    let l = parse_str(
        "t.cfg",
        "backend b\n option httpchk\n http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host api.test\n http-check expect status 204\n server s 127.0.0.1:1 check\n",
    )
    .unwrap();
    let b = l.config.backend("b").unwrap();
    let h = b.settings.httpchk.as_ref().unwrap();
    assert_eq!(h.method, "GET");
    assert_eq!(h.uri, "/healthz");
    assert_eq!(h.host.as_deref(), Some("api.test"));
    assert_eq!(b.settings.expect_status, Some(204));
    assert!(!errors("backend b\n http-check send bogus x\n").is_empty());
}
