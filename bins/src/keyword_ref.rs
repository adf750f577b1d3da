//! `docs/keywords.md`: the keyword reference of keepalived.conf and haproxy.cfg, written from
//! the parsers' own tables (`vrrp_node::config::keyword_reference`,
//! `l7_proxy::config::keyword_reference`), so that it cannot drift from what they accept.

use std::fmt::Write;

use l7_proxy::config as haproxy;
use vrrp_node::config as keepalived;

/// The command that writes the document (named in it and in the test that compares it).
pub const REGENERATE: &str = "cargo run -p bins --bin keyword-ref -- docs/keywords.md";

/// One row of a table (a table without any note has no note column).
struct Row<'a> {
    name: &'a str,
    status: &'static str,
    example: &'a str,
    note: &'a str,
}

/// The whole document.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Keyword reference\n\n\
         Generated from the parsers' own tables by `{REGENERATE}`; `cargo test -p bins --test \
         keyword_reference` fails when this file differs from them. Do not edit it by hand.\n\n\
         - **supported**: implemented;\n\
         - **warned**: the file loads with a warning naming the keyword, which is ignored (or \
         approximated, as its note says);\n\
         - **refused**: an error at its file:line:col; the file does not load. A keyword that \
         would guard something lbproxy or vrrpd cannot honour is refused, never warned.\n\n\
         Any keyword not listed in its block is an error as well (an unknown keyword). \
         `vrrpd -t -f FILE` and `lbproxy -c -f FILE` list every warning and error of a file.\n\n"
    ));
    keepalived_part(&mut out);
    haproxy_part(&mut out);
    out
}

fn keepalived_part(out: &mut String) {
    out.push_str(
        "## keepalived.conf (vrrpd)\n\n\
         `include FILE|GLOB` works in every block (relative to the including file). A block \
         keyword that is warned has its whole block skipped.\n\n\
         keepalived's line preprocessing works on every line, before keywords are read: \
         conditional lines `@ID` / `@^ID` (the config id is `vrrpd -i ID`, default the host \
         name's first label), definitions `$NAME=VALUE` (multi-line with a final `\\`), \
         `$NAME` and `${NAME}` substitution, `${_PWD}`, `${_INSTANCE}`, `${_HASH}`, \
         `${_BANG}`, and `~SEQ`/`~SEQx`/`~LST` line copies. `${_RANDOM}` is refused.\n\n",
    );
    for block in keepalived::keyword_reference() {
        let title = match block.name {
            "top level" => "Top level",
            "authentication" => "`authentication { }` in `vrrp_instance`",
            "virtual_ipaddress" => {
                "Address modifiers of `virtual_ipaddress` and `virtual_ipaddress_excluded`"
            }
            "unicast_peer" => "Address modifiers of `unicast_peer`",
            "anycast_route" => {
                "`anycast_route` (a halb extension, not keepalived's: see docs/anycast.md)"
            }
            other => other,
        };
        let rows: Vec<Row> = block
            .keywords
            .iter()
            .map(|k| Row {
                name: k.name,
                status: match k.status {
                    keepalived::KeywordStatus::Supported => "supported",
                    keepalived::KeywordStatus::Warned => "warned",
                },
                example: &k.example,
                note: "",
            })
            .collect();
        table(out, title, &rows);
    }
}

fn haproxy_part(out: &mut String) {
    out.push_str(
        "## haproxy.cfg (lbproxy)\n\n\
         In the sub-contexts (`option`, `bind`, `server`, TLS options, actions, fetches) the \
         example is what follows the keyword that opens the line. ACL criteria are the fetches \
         with an optional match suffix (`path_beg`, `hdr_end(host)`, `src_ip`...) or `-m` \
         method (str, beg, end, sub, dom, dir, reg, found, bool, ip, int, len).\n\n",
    );
    for context in haproxy::keyword_reference() {
        let title = match context.name {
            "section" => "Sections",
            "global" => "`global`",
            "proxy" => "`defaults`, `frontend`, `backend`, `listen`",
            "option" => "`option NAME` (and `no option NAME`)",
            "bind" => "`bind` options (and the TLS options)",
            "server" => "`server` and `default-server` options (and the TLS options)",
            "tls" => "TLS options of `bind`, `server` and `ssl-default-*-options`",
            "http-request" => "`http-request` actions",
            "http-response" => "`http-response` actions",
            "tcp-request" => "`tcp-request`",
            "tcp-request action" => "`tcp-request connection|session|content` actions",
            "fetch" => "Sample fetches",
            "converter" => "Converters",
            other => other,
        };
        let rows: Vec<Row> = context
            .keywords
            .iter()
            .map(|k| Row {
                name: k.name,
                status: match k.status {
                    haproxy::KeywordStatus::Supported => "supported",
                    haproxy::KeywordStatus::Warned => "warned",
                    haproxy::KeywordStatus::Refused => "refused",
                },
                example: &k.example,
                note: k.note,
            })
            .collect();
        table(out, title, &rows);
    }
}

/// A `###` section: counts, then one row per keyword.
fn table(out: &mut String, title: &str, rows: &[Row]) {
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    let _ = writeln!(out, "### {title}\n");
    let _ = writeln!(
        out,
        "{} supported, {} warned, {} refused.\n",
        count("supported"),
        count("warned"),
        count("refused")
    );
    let notes = rows.iter().any(|r| !r.note.is_empty());
    out.push_str(if notes {
        "| keyword | status | example | note |\n| --- | --- | --- | --- |\n"
    } else {
        "| keyword | status | example |\n| --- | --- | --- |\n"
    });
    for r in rows {
        // A placeholder example (the name, or the name and a value) says nothing more.
        let placeholder = r.example == r.name || r.example == format!("{} 1", r.name);
        let example = if placeholder {
            String::new()
        } else {
            code(r.example)
        };
        let _ = write!(out, "| `{}` | {} | {} |", r.name, r.status, example);
        if notes {
            let _ = write!(out, " {} |", cell(r.note));
        }
        out.push('\n');
    }
    out.push('\n');
}

/// Text in a table cell: pipes escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// An example as code in a table cell: a code span, or for several lines `<code>` with
/// `<br>` between them.
fn code(s: &str) -> String {
    if !s.contains('\n') {
        return format!("`{}`", cell(s));
    }
    let lines: Vec<String> = s
        .lines()
        .map(|l| {
            let text = l.trim_start();
            let indent = "&nbsp;".repeat(l.len() - text.len());
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('|', "&#124;");
            format!("{indent}{escaped}")
        })
        .collect();
    format!("<code>{}</code>", lines.join("<br>"))
}
