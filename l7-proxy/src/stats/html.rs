//! The HTML statistics page: one table per proxy, its servers coloured by state as on
//! HAProxy's page (green UP, yellow going down, orange going up, red DOWN, blue backup,
//! brown maintenance, grey unchecked), refreshing itself when `stats refresh` is set (by the `Refresh` header the
//! response carries, as HAProxy's).

use std::fmt::Write;
use std::time::Duration;

use super::fields::Col;
use super::rows::{Cell, Kind, Row};

/// How the page is shown (from the serving proxy's `stats` lines and the request).
#[derive(Debug, Clone, Default)]
pub struct Page<'a> {
    /// The statistics URI (links to the CSV and to refresh).
    pub uri: &'a str,
    /// `stats refresh`.
    pub refresh: Option<Duration>,
    /// `;norefresh` was asked.
    pub norefresh: bool,
    /// `stats hide-version`.
    pub hide_version: bool,
    /// `stats show-legends`.
    pub show_legends: bool,
    /// Process lines: pid, uptime, threads, connections.
    pub process: Vec<(&'static str, String)>,
}

const STYLE: &str =
    "body{font-family:Arial,Helvetica,sans-serif;font-size:12px;margin:8px;background:#fff}\
h1{font-size:18px;color:#fff;background:#20a0a0;padding:4px 8px;margin:0 0 8px}\
h2{font-size:14px;margin:12px 0 2px}\
table{border-collapse:collapse;margin-bottom:6px}\
th,td{border:1px solid #999;padding:1px 4px;text-align:right;white-space:nowrap}\
th{background:#20a0a0;color:#fff;font-weight:normal}\
td.name,th.name{text-align:left}\
tr.px th.pxname{background:#b00040;text-align:left;font-weight:bold}\
tr.frontend td{background:#f0f0f0}\
tr.backend td{background:#e8e8d0;font-weight:bold}\
tr.up td{background:#c0ffc0}\
tr.going_down td{background:#ffffa0}\
tr.going_up td{background:#ffd020}\
tr.down td{background:#ff9090}\
tr.backup_up td{background:#c0c0ff}\
tr.maint td{background:#c07820}\
tr.nocheck td{background:#e0e0e0}\
.info td{border:none;text-align:left}\
.legend td{border:1px solid #999;text-align:left}\
a{color:#0060a0}";

/// Escapes text for HTML.
fn esc(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A duration in seconds as HAProxy prints it: `45s`, `3m12s`, `2h5m`, `4d3h`.
pub fn human_secs(s: u64) -> String {
    let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}

/// The row's class, from its kind and status.
fn class(r: &Row) -> &'static str {
    match r.kind {
        Kind::Frontend => "frontend",
        Kind::Backend => "backend",
        Kind::Server => {
            let status = r.get(Col::Status).text().unwrap_or_default();
            let backup = r.get(Col::Bck) == &Cell::Num(1);
            match status.split(' ').next().unwrap_or_default() {
                "MAINT" => "maint",
                "no" => "nocheck",
                "UP" if status.contains('/') => "going_down",
                "DOWN" if status.contains('/') => "going_up",
                "UP" if backup => "backup_up",
                "UP" => "up",
                _ => "down",
            }
        }
    }
}

/// Column groups and their columns: (group, [(heading, column)]).
const GROUPS: &[(&str, &[(&str, Col)])] = &[
    (
        "Queue",
        &[
            ("Cur", Col::Qcur),
            ("Max", Col::Qmax),
            ("Limit", Col::Qlimit),
        ],
    ),
    ("Session rate", &[("Cur", Col::Rate), ("Max", Col::RateMax)]),
    (
        "Sessions",
        &[
            ("Cur", Col::Scur),
            ("Max", Col::Smax),
            ("Limit", Col::Slim),
            ("Total", Col::Stot),
            ("LbTot", Col::Lbtot),
            ("Last", Col::Lastsess),
        ],
    ),
    ("Bytes", &[("In", Col::Bin), ("Out", Col::Bout)]),
    ("Denied", &[("Req", Col::Dreq), ("Resp", Col::Dresp)]),
    (
        "Errors",
        &[
            ("Req", Col::Ereq),
            ("Conn", Col::Econ),
            ("Resp", Col::Eresp),
        ],
    ),
    ("Warnings", &[("Retr", Col::Wretr), ("Redis", Col::Wredis)]),
    (
        "Server",
        &[
            ("Status", Col::Status),
            ("LastChk", Col::CheckStatus),
            ("Wght", Col::Weight),
            ("Act", Col::Act),
            ("Bck", Col::Bck),
            ("Chk", Col::Chkfail),
            ("Dwn", Col::Chkdown),
            ("Dwntme", Col::Downtime),
        ],
    ),
];

fn cell_text(r: &Row, col: Col) -> String {
    let c = r.get(col);
    match col {
        Col::Lastsess => match c {
            Cell::Int(n) if *n >= 0 => human_secs(n.unsigned_abs()),
            _ => String::new(),
        },
        Col::Downtime => match c {
            Cell::Num(n) => human_secs(*n),
            _ => String::new(),
        },
        Col::Status => {
            let mut s = c.to_string();
            if let Cell::Num(n) = r.get(Col::Lastchg) {
                let _ = write!(s, " {}", human_secs(*n));
            }
            s
        }
        Col::CheckStatus => {
            let mut s = c.to_string();
            if let (false, Cell::Num(ms)) = (s.is_empty(), r.get(Col::CheckDuration)) {
                let _ = write!(s, " in {ms}ms");
            }
            s
        }
        Col::Act | Col::Bck if r.kind == Kind::Server => match c {
            Cell::Num(1) => "Y".into(),
            Cell::Num(_) => "-".into(),
            _ => String::new(),
        },
        _ => c.to_string(),
    }
}

fn table(out: &mut String, name: &str, rows: &[&Row]) {
    let span: usize = GROUPS.iter().map(|(_, c)| c.len()).sum::<usize>() + 1;
    out.push_str("<table>\n<tr class=px><th class=pxname colspan=");
    let _ = write!(out, "{span}>");
    esc(out, name);
    out.push_str("</th></tr>\n<tr><th class=name rowspan=2></th>");
    for (group, cols) in GROUPS {
        let _ = write!(out, "<th colspan={}>{group}</th>", cols.len());
    }
    out.push_str("</tr>\n<tr>");
    for (_, cols) in GROUPS {
        for (h, _) in *cols {
            let _ = write!(out, "<th>{h}</th>");
        }
    }
    out.push_str("</tr>\n");
    for r in rows {
        let _ = write!(out, "<tr class={}><td class=name>", class(r));
        esc(out, r.get(Col::Svname).text().unwrap_or_default());
        out.push_str("</td>");
        for (_, cols) in GROUPS {
            for (_, col) in *cols {
                let title = match col {
                    Col::CheckStatus => r.get(Col::LastChk).text().unwrap_or_default(),
                    _ => "",
                };
                if title.is_empty() {
                    out.push_str("<td>");
                } else {
                    out.push_str("<td title=\"");
                    esc(out, title);
                    out.push_str("\">");
                }
                esc(out, &cell_text(r, *col));
                out.push_str("</td>");
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn legend(out: &mut String) {
    out.push_str("<table class=legend><tr>");
    for (class, what) in [
        ("up", "active UP"),
        ("backup_up", "backup UP"),
        ("going_down", "UP, going down"),
        ("going_up", "DOWN, going up"),
        ("down", "DOWN"),
        ("maint", "MAINT (disabled)"),
        ("nocheck", "not checked"),
    ] {
        let _ = write!(
            out,
            "<td><table><tr class={class}><td>&nbsp;&nbsp;&nbsp;&nbsp;</td></tr></table></td><td>{what}</td>"
        );
    }
    out.push_str("</tr></table>\n<p>Status: the state and the time since it last changed; LastChk: the last check's result and duration (its detail on hover); Chk: failed checks; Dwn: transitions to DOWN; Dwntme: time spent DOWN.</p>\n");
}

/// The page.
pub fn render(rows: &[Row], page: &Page<'_>) -> String {
    let mut out = String::with_capacity(4096 + rows.len() * 600);
    out.push_str(
        "<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>Statistics Report</title>\n",
    );
    let _ = writeln!(out, "<style>{STYLE}</style></head><body>");
    out.push_str("<h1>Statistics Report");
    if !page.hide_version {
        let _ = write!(out, " &mdash; lbproxy {}", env!("CARGO_PKG_VERSION"));
    }
    out.push_str("</h1>\n<table class=info><tr><td>");
    for (k, v) in &page.process {
        let _ = write!(out, "<b>{k}</b> = ");
        esc(&mut out, v);
        out.push_str("<br>");
    }
    out.push_str("</td><td>");
    let base = page.uri.split(';').next().unwrap_or_default();
    let link = |out: &mut String, suffix: &str, text: &str| {
        out.push_str("<a href=\"");
        esc(out, base);
        let _ = write!(out, "{suffix}\">{text}</a><br>");
    };
    if page.refresh.is_some() {
        if page.norefresh {
            link(&mut out, "", "Enable refresh");
        } else {
            link(&mut out, ";norefresh", "Disable refresh");
        }
    }
    let again = if page.norefresh { ";norefresh" } else { "" };
    link(&mut out, again, "Refresh now");
    link(&mut out, ";csv", "CSV export");
    out.push_str("</td></tr></table>\n");
    if page.show_legends {
        legend(&mut out);
    }
    let mut start = 0;
    while start < rows.len() {
        let name = rows[start].get(Col::Pxname).text().unwrap_or_default();
        let end = rows[start..]
            .iter()
            .position(|r| r.get(Col::Pxname).text().unwrap_or_default() != name)
            .map_or(rows.len(), |n| start + n);
        let group: Vec<&Row> = rows[start..end].iter().collect();
        table(&mut out, name, &group);
        start = end;
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_haproxys() {
        assert_eq!(human_secs(45), "45s");
        assert_eq!(human_secs(192), "3m12s");
        assert_eq!(human_secs(7500), "2h5m");
        assert_eq!(human_secs(4 * 86400 + 3 * 3600), "4d3h");
    }

    #[test]
    fn names_are_escaped() {
        let mut s = String::new();
        esc(&mut s, "<script>\"a&b\"");
        assert_eq!(s, "&lt;script&gt;&quot;a&amp;b&quot;");
    }
}
