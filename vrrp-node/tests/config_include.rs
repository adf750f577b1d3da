//! `include` the way keepalived does it: anywhere (also inside blocks), relative to the
//! including file, absolute patterns, chains, and errors reported in the included file.

use std::fs;
use std::path::{Path, PathBuf};

use vrrp_node::config;

/// A fresh directory under the system temp dir, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("halb-inc-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        TempTree(dir)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn include_inside_a_block_and_chained_relative_to_each_file() {
    let t = TempTree::new("block");
    let main = t.write(
        "etc/keepalived.conf",
        "vrrp_instance VI {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  include vips/*.inc\n }\n}\ninclude sub/chain.conf\n",
    );
    t.write("etc/vips/a.inc", "198.18.20.1/24\n");
    t.write("etc/vips/b.inc", "198.18.20.2/24 dev eth0\n");
    // chain.conf includes relative to its own directory (etc/sub), not etc/.
    t.write("etc/sub/chain.conf", "include more/last.conf\n");
    t.write(
        "etc/sub/more/last.conf",
        "vrrp_script chk {\n script /bin/true\n}\n",
    );
    let l = config::load(&main).expect("loads");
    let vi = &l.config.instances[0];
    let addrs: Vec<String> = vi
        .virtual_ipaddresses
        .iter()
        .map(|v| format!("{}/{}", v.addr, v.prefix_len))
        .collect();
    assert_eq!(addrs, vec!["198.18.20.1/24", "198.18.20.2/24"]);
    assert!(vi.virtual_ipaddresses[1].span.file.ends_with("vips/b.inc"));
    let s = l.config.script("chk").expect("chk");
    assert!(s.span.file.ends_with("sub/more/last.conf"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn absolute_pattern() {
    let t = TempTree::new("abs");
    t.write(
        "d/one.conf",
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n",
    );
    t.write(
        "d/two.conf",
        "vrrp_instance B {\n interface eth0\n virtual_router_id 2\n}\n",
    );
    let pattern = t.0.join("d/*.conf");
    let text = format!("include \"{}\"\n", pattern.display());
    // The main text is virtual and lives nowhere; absolute includes still work.
    let l = config::parse_str(&text, "virtual.conf").expect("loads");
    let names: Vec<_> = l.config.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["A", "B"]);
}

#[test]
fn error_in_included_file_points_into_it() {
    let t = TempTree::new("err");
    let main = t.write("k.conf", "include conf.d/*.conf\n");
    let bad = t.write(
        "conf.d/x.conf",
        "vrrp_instance A {\n interface eth0\n virtual_router_id 0\n}\n",
    );
    let err = config::load(&main).expect_err("vrid 0");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:20: expected an integer 1..255 for virtual_router_id, found \"0\"",
            bad.display()
        )
    );
    assert_eq!(err.span().map(|s| &*s.file), Some(bad.as_path()));
}

#[test]
fn unbalanced_block_across_files_is_an_error() {
    let t = TempTree::new("unbal");
    let main = t.write("k.conf", "vrrp_instance A {\ninclude open.conf\n");
    t.write("open.conf", "}\n");
    // Both files are wrong on their own: each error is reported, the including file's
    // first (files in the order they are read).
    let errors = config::load_all(&main).expect_err("braces balance per file");
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2, "{errors}");
    assert!(
        lines[0].ends_with("k.conf:1:17: this \"{\" is never closed"),
        "{errors}"
    );
    assert!(
        lines[1].ends_with("open.conf:1:1: unexpected \"}\" with no open block"),
        "{errors}"
    );
}

#[test]
fn mutual_includes_are_a_cycle() {
    let t = TempTree::new("cycle");
    let a = t.write("a.conf", "include b.conf\n");
    t.write("b.conf", "include a.conf\n");
    let err = config::load(&a).expect_err("cycle");
    assert!(
        err.to_string()
            .ends_with("include \"a.conf\": include cycle: a.conf is already being read"),
        "{err}"
    );
    assert!(err
        .span()
        .is_some_and(|s| s.file.ends_with(Path::new("b.conf"))));
}

#[test]
fn bad_glob_pattern() {
    let err = config::parse_str("include \"[\"\n", "k.conf").expect_err("bad pattern");
    assert!(
        err.to_string()
            .starts_with("k.conf:1:1: include \"[\": bad pattern"),
        "{err}"
    );
}
