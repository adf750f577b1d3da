//! Every keyword of the keyword reference (the parser's own tables) loads as its status
//! says: a supported one, used as in its example inside a minimal configuration, loads
//! without any warning; a warned one loads with a warning naming it. And a keyword the
//! tables do not list is an error in every block.

use vrrp_node::config::{self, keyword_reference, Keyword, KeywordStatus, WarningKind};

/// The parts of the minimal configuration, each left out when it is the keyword under test
/// (so that a block is not defined twice).
const SCRIPT: &str = "vrrp_script chk_proxy {\n script \"/bin/true\"\n}\n";
/// What the instance and group examples track.
const TRACKS: &str = "vrrp_track_process chk_lbproxy {\n process lbproxy\n}\n\
                      track_file maint {\n file /tmp/halb-maint\n weight 0\n}\n";

/// A configuration that has `kw` used as `text` in block `block`.
fn config_with(block: &str, kw: &Keyword, text: &str) -> String {
    let base_lines = [
        ("interface", "interface eth0"),
        ("virtual_router_id", "virtual_router_id 51"),
        (
            "virtual_ipaddress",
            "virtual_ipaddress {\n 198.18.0.100/24\n}",
        ),
    ];
    let instance = |extra: &str| {
        let mut body: Vec<&str> = base_lines
            .iter()
            .filter(|(k, _)| block != "vrrp_instance" || *k != kw.name)
            .map(|(_, l)| *l)
            .collect();
        body.push(extra);
        format!("vrrp_instance VI_1 {{\n{}\n}}\n", body.join("\n"))
    };
    match block {
        "top level" => {
            let mut c = String::new();
            if kw.name != "vrrp_script" {
                c.push_str(SCRIPT);
            }
            if kw.name != "vrrp_instance" {
                c.push_str(&instance(""));
            }
            format!("{c}{text}\n")
        }
        "global_defs" => format!("global_defs {{\n{text}\n}}\n{SCRIPT}{}", instance("")),
        "vrrp_script" => format!(
            "vrrp_script chk_proxy {{\n{}\n{text}\n}}\n{}",
            if kw.name == "script" {
                ""
            } else {
                "script /bin/true"
            },
            instance("")
        ),
        "vrrp_instance" => format!("{SCRIPT}{TRACKS}{}", instance(text)),
        "authentication" => {
            let other = if kw.name == "auth_type" {
                "auth_pass s3cret"
            } else {
                "auth_type PASS"
            };
            instance(&format!("authentication {{\n{other}\n{text}\n}}"))
        }
        "virtual_ipaddress" => instance(&format!(
            "virtual_ipaddress_excluded {{\n 198.18.1.100/24 {text}\n}}"
        )),
        "unicast_peer" => instance(&format!("unicast_peer {{\n 198.18.0.2 {text}\n}}")),
        "vrrp_sync_group" => {
            let group = if kw.name == "group" {
                String::new()
            } else {
                "group {\n VI_1\n}\n".into()
            };
            format!(
                "{SCRIPT}{TRACKS}{}vrrp_sync_group G {{\n{group}{text}\n}}\n",
                instance("")
            )
        }
        "vrrp_track_process" => format!(
            "vrrp_track_process chk {{\n{}\n{text}\n}}\n{}",
            if kw.name == "process" {
                ""
            } else {
                "process lbproxy"
            },
            instance("")
        ),
        "track_file" => format!(
            "track_file maint {{\n{}\n{text}\n}}\n{}",
            if kw.name == "file" {
                ""
            } else {
                "file /tmp/halb-maint"
            },
            instance("")
        ),
        "anycast_route" => format!(
            "{SCRIPT}{TRACKS}{}anycast_route web {{\n{}\n{text}\n}}\n",
            instance(""),
            if kw.name == "prefix" {
                ""
            } else {
                "prefix 198.18.200.1/32"
            },
        ),
        other => panic!("a block with no minimal configuration in this test: {other}"),
    }
}

#[test]
fn every_keyword_loads_as_its_status_says() {
    let mut checked = 0;
    for block in keyword_reference() {
        for kw in &block.keywords {
            let text = config_with(block.name, kw, &kw.example);
            let loaded = config::parse_str(&text, "k.conf").unwrap_or_else(|e| {
                panic!("{} {} ({:?}): {e}\n{text}", block.name, kw.name, kw.status)
            });
            let warned: Vec<_> = loaded
                .warnings
                .iter()
                .map(|w| (w.keyword.as_str(), w.kind.clone()))
                .collect();
            match kw.status {
                KeywordStatus::Supported => assert!(
                    warned.is_empty(),
                    "{} {}: no warning expected, got {:?}\n{text}",
                    block.name,
                    kw.name,
                    loaded.warnings
                ),
                KeywordStatus::Warned => assert_eq!(
                    warned,
                    [(kw.name, WarningKind::NotImplemented)],
                    "{} {}\n{text}",
                    block.name,
                    kw.name
                ),
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked} keywords");
}

#[test]
fn a_keyword_is_listed_once_per_block() {
    for block in keyword_reference() {
        let mut names: Vec<_> = block.keywords.iter().map(|k| k.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "{}: {names:?}", block.name);
    }
}

#[test]
fn a_keyword_no_table_lists_is_an_error_in_every_block() {
    let unknown = Keyword {
        name: "no_such_keyword",
        status: KeywordStatus::Supported,
        example: String::new(),
    };
    for block in keyword_reference() {
        let text = config_with(block.name, &unknown, "no_such_keyword 1");
        let err = config::parse_str(&text, "k.conf")
            .expect_err(&format!("{}: an unknown keyword is an error", block.name));
        assert!(
            err.to_string().contains("no_such_keyword"),
            "{}: {err}",
            block.name
        );
    }
}
