//! Reading captured files and Prometheus text for the tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A file under testdata/exporters.
pub fn captured(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/exporters")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A sample's identity: family name and its labels sorted.
pub type SeriesKey = (String, Vec<(String, String)>);

/// The samples of a Prometheus text exposition, and each family's type and help.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: BTreeMap<SeriesKey, f64>,
    pub types: BTreeMap<String, String>,
    pub helps: BTreeMap<String, String>,
}

impl Scrape {
    /// The value of `name` with exactly `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut l: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.sort();
        self.samples.get(&(name.to_string(), l)).copied()
    }

    /// Every sample of family `name`.
    pub fn family(&self, name: &str) -> Vec<(&Vec<(String, String)>, f64)> {
        self.samples
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, l), v)| (l, *v))
            .collect()
    }
}

/// Parses the text format (enough of it for exporters' output: no timestamps).
pub fn parse_exposition(text: &str) -> Scrape {
    let mut s = Scrape::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            s.types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            s.helps.insert(name.to_string(), help.to_string());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample value");
        let value: f64 = match value {
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|e| panic!("{line}: {e}")),
        };
        let (name, mut labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
            None => (series, Vec::new()),
        };
        labels.sort();
        s.samples.insert((name.to_string(), labels), value);
    }
    s
}

fn parse_labels(mut text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while !text.is_empty() {
        let (k, rest) = text.split_once("=\"").expect("label=\"");
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (_, '\\') => match chars.next().expect("escape") {
                    (_, 'n') => value.push('\n'),
                    (_, c) => value.push(c),
                },
                (i, '"') => break i + 1,
                (_, c) => value.push(c),
            }
        };
        out.push((k.to_string(), value));
        text = rest[end..].trim_start_matches(',');
    }
    out
}

/// The keepalived families of `report`, as a scrape.
pub fn published(report: &exporters::keepalived::VrrpReport) -> Scrape {
    let mut out = exporters::text::Exposition::new();
    exporters::keepalived::export(report, &mut out, &[], &Default::default());
    parse_exposition(&out.render())
}

/// `keepalived_vrrp_state` of VIP `vip` of instance `iname` (VRID `vrid`) on eth0.
pub fn vrrp_state(s: &Scrape, iname: &str, vrid: &str, vip: &str) -> Option<f64> {
    s.value(
        "keepalived_vrrp_state",
        &[
            ("iname", iname),
            ("intf", "eth0"),
            ("vrid", vrid),
            ("ip_address", vip),
        ],
    )
}
