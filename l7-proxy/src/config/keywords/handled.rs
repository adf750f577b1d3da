//! The keywords each dispatcher has an arm for, with their status and an example. In a
//! sub-context (`option`, `bind`, `server`, `tls`, actions, fetches) the example is what
//! follows the parent keyword.

use super::{KeywordStatus, Kw};

const fn ok(name: &'static str, example: &'static str) -> Kw {
    Kw::new(name, KeywordStatus::Supported, example)
}
const fn warned(name: &'static str, example: &'static str) -> Kw {
    Kw::new(name, KeywordStatus::Warned, example)
}
const fn refused(name: &'static str, example: &'static str) -> Kw {
    Kw::new(name, KeywordStatus::Refused, example)
}

/// Section headers.
pub(in crate::config) const SECTIONS: &[Kw] = &[
    ok("global", "global\n    maxconn 4096"),
    ok(
        "defaults",
        "defaults\n    mode http\n    timeout client 30s",
    ),
    ok(
        "frontend",
        "frontend www\n    bind :80\n    default_backend app",
    ),
    ok(
        "backend",
        "backend static\n    server static1 198.18.0.31:8080 check",
    ),
    ok(
        "listen",
        "listen stats\n    bind 127.0.0.1:8404\n    stats uri /stats",
    ),
];

/// `global` keywords.
pub(in crate::config) const GLOBAL: &[Kw] = &[
    ok("maxconn", "maxconn 4096"),
    ok("ulimit-n", "ulimit-n 65536"),
    ok("nbthread", "nbthread 4"),
    ok("user", "user haproxy").note("taken once the listeners are bound"),
    ok("group", "group haproxy"),
    ok("pidfile", "pidfile /run/haproxy.pid"),
    warned("daemon", "daemon").note("lbproxy stays in the foreground: run it under systemd"),
    ok("nosplice", "nosplice").note("turns every `option splice-*` off"),
    ok("maxpipes", "maxpipes 1024")
        .note("default maxconn / 4; two descriptors each in the file limit"),
    ok("log", "log /dev/log local0"),
    ok("ca-base", "ca-base /etc/ssl/certs"),
    ok("crt-base", "crt-base /etc/haproxy/certs"),
    ok("ssl-server-verify", "ssl-server-verify required"),
    ok(
        "ssl-default-bind-ciphers",
        "ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
    ),
    ok(
        "ssl-default-bind-ciphersuites",
        "ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384",
    ),
    ok(
        "ssl-default-bind-curves",
        "ssl-default-bind-curves X25519:P-256",
    ),
    ok(
        "ssl-default-bind-options",
        "ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
    )
    .note("the `tls` options, and prefer-client-ciphers"),
    ok(
        "ssl-default-server-ciphers",
        "ssl-default-server-ciphers ECDHE-RSA-AES256-GCM-SHA384",
    ),
    ok(
        "ssl-default-server-ciphersuites",
        "ssl-default-server-ciphersuites TLS_AES_256_GCM_SHA384",
    ),
    ok(
        "ssl-default-server-curves",
        "ssl-default-server-curves X25519",
    ),
    ok(
        "ssl-default-server-options",
        "ssl-default-server-options ssl-min-ver TLSv1.2",
    )
    .note("the `tls` options"),
    refused(
        "ssl-default-bind-sigalgs",
        "ssl-default-bind-sigalgs RSA+SHA256",
    )
    .note("it restricts signatures"),
    refused(
        "ssl-default-bind-client-sigalgs",
        "ssl-default-bind-client-sigalgs RSA+SHA256",
    )
    .note("it restricts signatures"),
    refused(
        "ssl-default-server-sigalgs",
        "ssl-default-server-sigalgs RSA+SHA256",
    )
    .note("it restricts signatures"),
    refused(
        "ssl-default-server-client-sigalgs",
        "ssl-default-server-client-sigalgs RSA+SHA256",
    )
    .note("it restricts signatures"),
    ok(
        "tune.h2.header-table-size",
        "tune.h2.header-table-size 4096",
    ),
    ok(
        "tune.h2.initial-window-size",
        "tune.h2.initial-window-size 65535",
    ),
    ok(
        "tune.h2.max-concurrent-streams",
        "tune.h2.max-concurrent-streams 100",
    ),
    ok("tune.h2.max-frame-size", "tune.h2.max-frame-size 16384"),
    ok(
        "tune.h2.max-header-list-size",
        "tune.h2.max-header-list-size 65536",
    ),
    ok(
        "tune.h2.fe.header-table-size",
        "tune.h2.fe.header-table-size 4096",
    ),
    ok(
        "tune.h2.fe.initial-window-size",
        "tune.h2.fe.initial-window-size 65535",
    ),
    ok(
        "tune.h2.fe.max-concurrent-streams",
        "tune.h2.fe.max-concurrent-streams 100",
    ),
    ok(
        "tune.h2.fe.max-frame-size",
        "tune.h2.fe.max-frame-size 16384",
    ),
    ok(
        "tune.h2.fe.max-header-list-size",
        "tune.h2.fe.max-header-list-size 65536",
    ),
    ok("tune.ssl.cachesize", "tune.ssl.cachesize 20000"),
    ok("tune.ssl.lifetime", "tune.ssl.lifetime 300"),
    warned("tune.*", "tune.bufsize 32768").note("every other tunable"),
];

/// Keywords of `defaults`, `frontend`, `backend` and `listen`.
pub(in crate::config) const PROXY: &[Kw] = &[
    ok("mode", "mode http").note("http or tcp"),
    ok(
        "bind",
        "bind :443 ssl crt /etc/haproxy/certs/ alpn h2,http/1.1",
    )
    .note("frontend, listen"),
    ok("acl", "acl is_api path_beg /api").note("not in defaults"),
    ok("use_backend", "use_backend api if { path_beg /api }").note("frontend, listen"),
    ok("default_backend", "default_backend api").note("frontend, listen"),
    ok("server", "server web1 198.18.0.11:8080 check").note("backend, listen"),
    ok("default-server", "default-server inter 3s fall 3 rise 2"),
    ok("balance", "balance leastconn").note(
        "roundrobin, leastconn, source, first; static-rr, uri, url_param, hdr, random, \
         rdp-cookie and hash warn and use roundrobin",
    ),
    ok("timeout", "timeout client 30s").note(
        "connect, client, server, http-request, http-keep-alive, queue, check; tunnel, \
         client-fin, server-fin and tarpit warn",
    ),
    ok("retries", "retries 3"),
    ok("maxconn", "maxconn 2000"),
    ok("backlog", "backlog 1024"),
    ok("option", "option forwardfor").note("see `option`"),
    ok("no", "no log").note("`no option NAME`, `no log`"),
    ok("log", "log global"),
    ok("http-check", "http-check expect status 200")
        .note("`expect status N`, `send meth M uri U hdr host H`; other forms warn"),
    ok("stats", "stats uri /stats").note(
        "enable, uri, auth, realm, refresh, hide-version, show-legends; `stats http-request` \
         is refused, other sub-keywords warn",
    ),
    ok("errorfile", "errorfile 503 /etc/haproxy/errors/503.http"),
    ok(
        "http-request",
        "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
    )
    .note("see `http-request`; not in defaults"),
    ok("http-response", "http-response del-header Server")
        .note("see `http-response`; not in defaults"),
    ok("redirect", "redirect scheme https code 301 if !{ ssl_fc }").note("not in defaults"),
    ok(
        "tcp-request",
        "tcp-request connection reject if { src 198.51.100.0/24 }",
    )
    .note("frontend, listen; see `tcp-request`"),
    refused(
        "http-after-response",
        "http-after-response set-header X-A b",
    )
    .note("its rules could guard something"),
    refused("tcp-response", "tcp-response content accept").note("its rules could guard something"),
];

/// `option NAME` (and `no option NAME`).
pub(in crate::config) const OPTIONS: &[Kw] = &[
    ok("forwardfor", "forwardfor").note("arguments (except, header) warn"),
    ok("http-keep-alive", "http-keep-alive"),
    ok("http-server-close", "http-server-close"),
    ok("httpclose", "httpclose"),
    ok("forceclose", "forceclose").note("as httpclose"),
    ok("http-tunnel", "http-tunnel").note("as httpclose"),
    ok("redispatch", "redispatch").note("an interval warns"),
    ok("httplog", "httplog"),
    ok("tcplog", "tcplog"),
    ok("dontlognull", "dontlognull"),
    ok("http-ignore-probes", "http-ignore-probes"),
    ok("splice-auto", "splice-auto")
        .note("both directions, after two reads that fill the buffer; plain TCP on both sides"),
    ok("splice-request", "splice-request")
        .note("plain TCP on both sides; TCP mode, upgrades, HTTP/1.1 bodies"),
    ok("splice-response", "splice-response")
        .note("plain TCP on both sides; TCP mode, upgrades, HTTP/1.1 bodies"),
    ok("httpchk", "httpchk GET /healthz"),
];

/// Options of a `bind` line (with the `tls` ones).
pub(in crate::config) const BIND: &[Kw] = &[
    ok("ssl", "ssl crt /etc/haproxy/certs/site.pem"),
    ok("crt", "crt /etc/haproxy/certs/").note("a PEM file or a directory of them"),
    ok("strict-sni", "strict-sni"),
    ok("prefer-client-ciphers", "prefer-client-ciphers"),
    ok("alpn", "alpn h2,http/1.1"),
    ok("ca-file", "ca-file /etc/haproxy/clients-ca.pem"),
    ok("crl-file", "crl-file /etc/haproxy/clients.crl"),
    ok(
        "verify",
        "verify required ca-file /etc/haproxy/clients-ca.pem",
    ),
    ok("interface", "interface eth0"),
    ok("backlog", "backlog 1024"),
    warned("crt-list", "crt-list /etc/haproxy/crt-list.txt")
        .note("its certificates are not loaded"),
    warned("npn", "npn http/1.1").note("obsolete"),
];

/// Options of a `server` or `default-server` line (with the `tls` ones).
pub(in crate::config) const SERVER: &[Kw] = &[
    ok("check", "check"),
    ok("no-check", "no-check"),
    ok("backup", "backup"),
    ok("no-backup", "no-backup"),
    ok("disabled", "disabled"),
    ok("inter", "inter 2s"),
    ok("fastinter", "fastinter 1s"),
    ok("downinter", "downinter 5s"),
    ok("rise", "rise 2"),
    ok("fall", "fall 3"),
    ok("weight", "weight 10"),
    ok("maxconn", "maxconn 100"),
    ok("maxqueue", "maxqueue 50"),
    ok("ssl", "ssl ca-file @system-ca"),
    ok("no-ssl", "no-ssl"),
    ok("check-ssl", "check-ssl ca-file @system-ca"),
    ok("no-check-ssl", "no-check-ssl"),
    ok("verify", "ssl verify none"),
    ok("ca-file", "ssl ca-file /etc/haproxy/backend-ca.pem"),
    ok(
        "crl-file",
        "ssl ca-file /etc/haproxy/backend-ca.pem crl-file /etc/haproxy/backend.crl",
    ),
    ok("crt", "ssl ca-file @system-ca crt /etc/haproxy/client.pem"),
    ok(
        "verifyhost",
        "ssl ca-file @system-ca verifyhost app.internal",
    ),
    ok("sni", "ssl ca-file @system-ca sni req.hdr(host)")
        .note("str(NAME), req.hdr(host), ssl_fc_sni"),
    ok("alpn", "ssl ca-file @system-ca alpn http/1.1").note("HTTP/1.1 only"),
    ok("check-alpn", "check-alpn http/1.1").note("HTTP/1.1 only"),
    ok("pool-max-conn", "pool-max-conn 100"),
    ok("pool-purge-delay", "pool-purge-delay 5s"),
    warned("pool-low-conn", "pool-low-conn 10").note("idle connections are shared by all threads"),
    warned("check-sni", "check-sni app.internal").note("checks send the server's sni"),
    refused("no-verifyhost", "no-verifyhost").note("use verify none"),
];

/// TLS protocol options of `bind`, `server` and `ssl-default-*-options`.
pub(in crate::config) const TLS: &[Kw] = &[
    ok("ssl-min-ver", "ssl-min-ver TLSv1.2"),
    ok("ssl-max-ver", "ssl-max-ver TLSv1.3"),
    ok("no-sslv3", "no-sslv3").note("rustls never offers SSLv3, TLS 1.0 or 1.1"),
    ok("no-tlsv10", "no-tlsv10"),
    ok("no-tlsv11", "no-tlsv11"),
    ok("no-tlsv12", "no-tlsv12"),
    ok("no-tlsv13", "no-tlsv13"),
    ok("force-tlsv12", "force-tlsv12"),
    ok("force-tlsv13", "force-tlsv13"),
    ok("no-tls-tickets", "no-tls-tickets"),
    ok("tls-tickets", "tls-tickets"),
    ok(
        "ciphers",
        "ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
    )
    .note("narrowed to rustls' suites (a warning names those left out); none left is an error"),
    ok("ciphersuites", "ciphersuites TLS_AES_128_GCM_SHA256"),
    ok("curves", "curves X25519:P-256"),
    ok("ecdhe", "ecdhe prime256v1"),
    warned("allow-0rtt", "allow-0rtt").note("early data is refused"),
    refused("sigalgs", "sigalgs RSA+SHA256").note("it restricts signatures"),
    refused("client-sigalgs", "client-sigalgs RSA+SHA256").note("it restricts signatures"),
    refused("force-sslv3", "force-sslv3").note("rustls offers TLS 1.2 and 1.3 only"),
    refused("force-tlsv10", "force-tlsv10").note("rustls offers TLS 1.2 and 1.3 only"),
    refused("force-tlsv11", "force-tlsv11").note("rustls offers TLS 1.2 and 1.3 only"),
];

/// `http-request` actions.
pub(in crate::config) const HTTP_REQUEST: &[Kw] = &[
    ok(
        "set-header",
        "set-header X-Forwarded-Proto https if { ssl_fc }",
    ),
    ok("add-header", "add-header X-Client %[src]"),
    ok("del-header", "del-header X-Internal"),
    ok("allow", "allow if { src 198.18.0.0/15 }"),
    ok("deny", "deny deny_status 429 if { path_beg /admin }"),
    ok(
        "return",
        "return status 200 content-type text/plain string ok if { path /ping }",
    ),
    ok(
        "redirect",
        "redirect scheme https code 301 unless { ssl_fc }",
    ),
    ok(
        "use-service",
        "use-service prometheus-exporter if { path /metrics }",
    )
    .note("prometheus-exporter"),
];

/// `http-response` actions.
pub(in crate::config) const HTTP_RESPONSE: &[Kw] = &[
    ok(
        "set-header",
        "set-header Strict-Transport-Security max-age=31536000",
    ),
    ok("add-header", "add-header X-Served-By %[env(HOSTNAME)]"),
    ok("del-header", "del-header Server"),
    ok("allow", "allow if { status 200 }"),
    ok("deny", "deny if { res.hdr(x-leak) -m found }"),
    ok("return", "return status 503 if { status 500 }"),
    ok(
        "redirect",
        "redirect location /maintenance if { status 503 }",
    )
    .note("location only"),
    refused("use-service", "use-service prometheus-exporter").note("an http-request action"),
];

/// What follows `tcp-request`.
pub(in crate::config) const TCP_REQUEST: &[Kw] = &[
    ok("connection", "connection reject if { src 198.51.100.0/24 }"),
    ok("session", "session accept").note("as connection"),
    ok("content", "content accept if { ssl_fc }"),
    warned("inspect-delay", "inspect-delay 5s").note("nothing waits for content"),
];

/// `tcp-request connection|session|content` actions.
pub(in crate::config) const TCP_ACTIONS: &[Kw] = &[
    ok("accept", "accept if { src 198.18.0.0/15 }"),
    ok("reject", "reject if { src 198.51.100.0/24 }"),
];

/// Sample fetches, in `%[...]`, ACLs and `if { ... }`; an ACL criterion may add a match
/// suffix (`path_beg`, `hdr_end(host)`, `ssl_fc_sni_reg`).
pub(in crate::config) const FETCHES: &[Kw] = &[
    ok("src", "src"),
    ok("src_port", "src_port"),
    ok("dst", "dst"),
    ok("dst_port", "dst_port"),
    ok("ssl_fc", "ssl_fc"),
    ok("ssl_fc_sni", "ssl_fc_sni"),
    ok("ssl_fc_protocol", "ssl_fc_protocol"),
    ok("ssl_fc_alpn", "ssl_fc_alpn"),
    ok("ssl_fc_cipher", "ssl_fc_cipher"),
    ok("method", "method"),
    ok("path", "path"),
    ok("url", "url"),
    ok("query", "query"),
    ok("base", "base"),
    ok("req.ver", "req.ver"),
    ok("req_ver", "req_ver"),
    ok("req.hdr", "req.hdr(host)"),
    ok("hdr", "hdr(host)"),
    ok("req.fhdr", "req.fhdr(user-agent)"),
    ok("req.hdr_cnt", "req.hdr_cnt(cookie)"),
    ok("hdr_cnt", "hdr_cnt(cookie)"),
    ok("res.hdr", "res.hdr(content-type)").note("http-response"),
    ok("shdr", "shdr(content-type)").note("http-response"),
    ok("status", "status").note("http-response"),
    ok("str", "str(example)"),
    ok("env", "env(HOSTNAME)").note("read when the configuration loads"),
    ok("always_true", "always_true"),
    ok("always_false", "always_false"),
];

/// Converters after a fetch.
pub(in crate::config) const CONVERTERS: &[Kw] = &[
    ok("lower", "req.hdr(host),lower"),
    ok("upper", "method,upper"),
];
