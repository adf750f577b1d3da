//! Every example under docs/examples loads: `vrrpd -t -f` accepts each keepalived.conf
//! (`*.conf`) and `lbproxy -c -f` each haproxy.cfg (`*.cfg`), certificates included. The
//! examples name /etc/haproxy/certs/; the test points that at a copy of the test certificate.

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn examples() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let mut out = Vec::new();
    files(&root, &mut out);
    out.sort();
    out
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn vrrpd_accepts_every_keepalived_example() {
    let confs: Vec<_> = examples()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    assert!(confs.len() >= 3, "{confs:?}");
    for conf in confs {
        let (ok, out) = run(Command::new(env!("CARGO_BIN_EXE_vrrpd"))
            .arg("-t")
            .arg("-f")
            .arg(&conf));
        assert!(
            ok && out.contains("configuration OK"),
            "{}:\n{out}",
            conf.display()
        );
    }
}

#[test]
fn lbproxy_accepts_every_haproxy_example() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).expect("certs dir");
    let pem = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/haproxy/certs/site.pem");
    std::fs::copy(&pem, certs.join("site.pem")).expect("test certificate");
    let cfgs: Vec<_> = examples()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    assert!(cfgs.len() >= 2, "{cfgs:?}");
    for cfg in cfgs {
        let text = std::fs::read_to_string(&cfg).expect("example");
        let local = dir.path().join(cfg.file_name().expect("a file name"));
        let rewritten = text.replace("/etc/haproxy/certs/", &format!("{}/", certs.display()));
        std::fs::write(&local, rewritten).expect("copy");
        let (ok, out) = run(Command::new(env!("CARGO_BIN_EXE_lbproxy"))
            .arg("-c")
            .arg("-f")
            .arg(&local));
        assert!(
            ok && out.contains("Configuration file is valid"),
            "{}:\n{out}",
            cfg.display()
        );
    }
}
