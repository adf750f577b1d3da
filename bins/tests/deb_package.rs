//! The Debian package, installed and started. `scripts/build-debs.sh --dev` packages this
//! build's binaries; dpkg installs the package into a throwaway root (`--root`, maintainer
//! scripts run chrootless with DPKG_ROOT set, which they honour). The test checks the files
//! (binaries, units and OCF agents equal to deploy/'s, man pages, conffiles) and the units
//! (`systemd-analyze verify`). It then starts the installed binaries with the packaged
//! configurations and the command lines of the packaged units, in a network namespace:
//! vrrpd becomes Master, and lb-exporter's /metrics shows vrrpd and lbproxy up. Finally the
//! package is purged and nothing of it is left.
//!
//! Needs root (network namespace, dpkg), cargo-deb, help2man, dpkg and systemd-analyze:
//! without them it is skipped with a message, or fails when `CI=true`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{exec, spawn};

const UNITS: [&str; 3] = ["vrrpd.service", "lbproxy.service", "lb-exporter.service"];
const BINARIES: [&str; 3] = ["vrrpd", "lbproxy", "lb-exporter"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether every tool is there; a missing one skips the test (fails it under CI=true).
fn tools_present() -> bool {
    let missing: Vec<_> = ["cargo-deb", "help2man", "dpkg", "systemd-analyze", "gzip"]
        .into_iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "deb_package: missing {missing:?} (cargo install --locked cargo-deb; apt-get install \
         help2man systemd)"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message} (CI=true, so not skipping)");
    }
    eprintln!("SKIPPED: {message}");
    false
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Builds the package from this build's binaries; returns its path.
fn build_deb() -> PathBuf {
    // target/debug/vrrpd -> target
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"));
    let target = exe.parent().and_then(Path::parent).expect("target dir");
    let out = run(Command::new("bash")
        .arg(repo().join("scripts/build-debs.sh"))
        .arg("--dev")
        .env("CARGO_TARGET_DIR", target));
    let deb = PathBuf::from(out.lines().last().unwrap_or("").trim());
    assert!(deb.extension().is_some_and(|e| e == "deb"), "{out}");
    deb
}

/// A root dpkg can install into: its database, empty.
fn dpkg_root() -> tempfile::TempDir {
    let root = tempfile::Builder::new()
        .prefix("halb-deb-root")
        .tempdir()
        .expect("temp dir");
    let db = root.path().join("var/lib/dpkg");
    for dir in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(db.join(dir)).expect("dpkg dirs");
    }
    for file in ["status", "available"] {
        std::fs::write(db.join(file), "").expect("dpkg files");
    }
    root
}

fn dpkg(root: &Path) -> Command {
    let mut cmd = Command::new("dpkg");
    // libc6, the one dependency, is the host's; the scripts run here with DPKG_ROOT set.
    cmd.arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--force-depends"]);
    cmd
}

fn check_files(root: &Path) {
    for b in BINARIES {
        let exe = root.join("usr/sbin").join(b);
        let out = run(Command::new(&exe).arg("--version"));
        assert!(out.starts_with(b), "{out}");
        let man = run(Command::new("gzip")
            .arg("-dc")
            .arg(root.join("usr/share/man/man8").join(format!("{b}.8.gz"))));
        assert!(
            man.contains(".TH") && man.contains("\\-\\-help"),
            "{b}.8:\n{man}"
        );
    }
    for unit in UNITS {
        let installed = std::fs::read_to_string(root.join("lib/systemd/system").join(unit));
        let source = std::fs::read_to_string(repo().join("deploy/systemd").join(unit));
        assert_eq!(installed.ok(), source.ok(), "{unit} is deploy/'s");
    }
    for agent in ["lbproxy", "lb-exporter"] {
        let path = root.join("usr/lib/ocf/resource.d/halb").join(agent);
        let installed = std::fs::read_to_string(&path);
        let source = std::fs::read_to_string(repo().join("deploy/ocf").join(agent));
        assert_eq!(
            installed.ok(),
            source.ok(),
            "OCF agent {agent} is deploy/'s"
        );
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o755), "OCF agent {agent}'s mode");
    }
    let conffiles =
        std::fs::read_to_string(root.join("var/lib/dpkg/info/halb.conffiles")).expect("conffiles");
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        ["/etc/halb/keepalived.conf", "/etc/halb/haproxy.cfg"]
    );
}

/// `systemd-analyze verify` of the installed units, against the host's units (copied into
/// the root: verify follows their dependencies there) and with no complaint at all.
fn verify_units(root: &Path) {
    let units = root.join("lib/systemd/system");
    for entry in std::fs::read_dir("/lib/systemd/system")
        .expect("host units")
        .flatten()
    {
        let to = units.join(entry.file_name());
        if entry.path().is_file() && !to.exists() {
            std::fs::copy(entry.path(), to).expect("copy a host unit");
        }
    }
    std::fs::create_dir_all(root.join("bin")).expect("bin");
    std::fs::copy("/bin/kill", root.join("bin/kill")).expect("kill, of ExecReload");
    let mut cmd = Command::new("systemd-analyze");
    cmd.arg("verify").arg(format!("--root={}", root.display()));
    for unit in UNITS {
        cmd.arg(format!("/lib/systemd/system/{unit}"));
    }
    let out = run(&mut cmd);
    assert!(out.trim().is_empty(), "systemd-analyze verify:\n{out}");
}

/// The packaged unit's ExecStart (continuation lines joined), run from `root`, with `edit`
/// applied to each argument.
fn exec_start(root: &Path, unit: &str, edit: impl Fn(&str) -> String) -> Vec<String> {
    let text = std::fs::read_to_string(root.join("lib/systemd/system").join(unit)).expect("unit");
    let joined = text.replace("\\\n", " ");
    let line = joined
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    line.split_whitespace()
        .map(|a| match a.strip_prefix('/') {
            Some(rest) if a.starts_with("/usr/sbin/") => root.join(rest).display().to_string(),
            _ => edit(a),
        })
        .collect()
}

#[test]
fn the_package_installs_starts_and_purges() {
    let Some(lab) = common::lab("deb_package", "debpkg", &["a"]) else {
        return;
    };
    if !tools_present() {
        return;
    }
    let started = Instant::now();
    let deb = build_deb();
    let built = started.elapsed();
    let root = dpkg_root();
    let r = root.path();
    run(dpkg(r).arg("-i").arg(&deb));
    check_files(r);
    verify_units(r);
    let etc = r.join("etc/halb");
    let keepalived_conf = etc.join("keepalived.conf").display().to_string();
    let haproxy_cfg = etc.join("haproxy.cfg").display().to_string();
    run(Command::new(r.join("usr/sbin/vrrpd")).args(["-t", "-f", &keepalived_conf]));
    run(Command::new(r.join("usr/sbin/lbproxy")).args(["-c", "-f", &haproxy_cfg]));

    // The units' command lines with the packaged configurations, in the lab's namespace.
    let ns = lab.node("a").ns();
    let lbproxy = exec_start(r, "lbproxy.service", |a| {
        a.replace("/etc/haproxy/haproxy.cfg", &haproxy_cfg)
    });
    let mut vrrpd = exec_start(r, "vrrpd.service", |a| {
        a.replace("/etc/keepalived/keepalived.conf", &keepalived_conf)
    });
    vrrpd.push("-l".into());
    let exporter = exec_start(r, "lb-exporter.service", str::to_string);
    let procs = [
        spawn(ns, &lbproxy).expect("lbproxy"),
        spawn(ns, &vrrpd).expect("vrrpd"),
        spawn(ns, &exporter).expect("lb-exporter"),
    ];
    let logs = || -> String { procs.iter().map(|p| p.log()).collect::<Vec<_>>().join("\n") };
    let metrics = || {
        exec(ns, ["curl", "-s", "http://127.0.0.1:9655/metrics"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let serving = |m: &str| {
        m.lines().any(|l| l == "haproxy_up 1")
            && m.lines().any(|l| l == "keepalived_up 1")
            && m.lines()
                .any(|l| l.starts_with("keepalived_vrrp_state{") && l.ends_with(" 2"))
    };
    common::within(Duration::from_secs(15), || serving(&metrics())).unwrap_or_else(|| {
        panic!(
            "lb-exporter shows lbproxy up and vrrpd Master\n{}\n{}",
            metrics(),
            logs()
        )
    });
    drop(procs);

    run(dpkg(r).args(["--purge", "halb"]));
    let mut ours: Vec<PathBuf> = [
        "etc/halb",
        "usr/share/halb",
        "usr/share/doc/halb",
        "usr/lib/ocf/resource.d/halb",
    ]
    .iter()
    .map(|p| r.join(p))
    .collect();
    for b in BINARIES {
        ours.push(r.join("usr/sbin").join(b));
        ours.push(r.join("usr/share/man/man8").join(format!("{b}.8.gz")));
    }
    ours.extend(UNITS.iter().map(|u| r.join("lib/systemd/system").join(u)));
    let left: Vec<_> = ours.iter().filter(|p| p.exists()).collect();
    assert!(left.is_empty(), "left after purge: {left:?}");
    eprintln!(
        "deb_package: package built in {built:.1?}, whole test {:.1?}",
        started.elapsed()
    );
}
