//! docs/keywords.md is what the parsers' tables say: regenerated here and compared.

use std::path::PathBuf;

#[test]
fn docs_keywords_md_is_generated_from_the_tables() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/keywords.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = bins::keyword_ref::markdown();
    if on_disk != generated {
        let line = on_disk
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                on_disk.lines().count().min(generated.lines().count()),
                |n| n,
            )
            + 1;
        panic!(
            "{} differs from the parsers' keyword tables (first at line {line}); regenerate it \
             with `{}`",
            path.display(),
            bins::keyword_ref::REGENERATE
        );
    }
}

#[test]
fn the_reference_lists_both_files_keywords() {
    let md = bins::keyword_ref::markdown();
    for needle in [
        "## keepalived.conf (vrrpd)",
        "| `vrrp_instance` | supported |",
        "| `virtual_server` | warned |",
        "## haproxy.cfg (lbproxy)",
        "| `http-after-response` | refused |",
        "| `compression` | warned |",
        "| `ssl-min-ver` | supported |",
    ] {
        assert!(md.contains(needle), "{needle}");
    }
}
