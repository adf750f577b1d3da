//! Running `vrrpd` inside a testkit lab: config files, the process, its JSON status.
#![allow(dead_code)]

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use testkit::{exec, spawn, Lab, ProcessGuard, Signal};

/// Port of the status endpoint inside each node's namespace (each has its own loopback).
pub const STATUS_PORT: u16 = 9650;

/// What every network test starts with: `None` when it is skipped (not root, outside CI:
/// see [`testkit::require_root`]), else a lab named `prefix` with `nodes` on one bridge,
/// removed when dropped.
pub fn lab(test: &str, prefix: &str, nodes: &[&str]) -> Option<Lab> {
    if !testkit::require_root(test) {
        return None;
    }
    let builder = nodes
        .iter()
        .fold(Lab::builder(prefix), |builder, node| builder.node(node));
    Some(builder.build().expect("lab"))
}

/// A `vrrp_instance` block as the tests write it: `eth0`, VRRPv3, adverts every 0.1 s,
/// the `extra` lines inside the block, and each of `vips` (as written) on its own
/// `virtual_ipaddress` line.
pub fn vrrp_instance<S: AsRef<str>>(
    name: &str,
    vrid: u8,
    priority: u8,
    vips: &[S],
    extra: &str,
) -> String {
    let vips: Vec<&str> = vips.iter().map(AsRef::as_ref).collect();
    format!(
        "vrrp_instance {name} {{
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int 0.1
    version 3
    {extra}
    virtual_ipaddress {{
        {}
    }}
}}
",
        vips.join("\n        ")
    )
}

/// A `vrrpd` running in a namespace, with its config file.
pub struct Vrrpd {
    /// The namespace.
    pub ns: String,
    /// The process.
    pub proc: ProcessGuard,
    /// The config file (rewrite it and [`Vrrpd::reload`] to change the config).
    pub conf: PathBuf,
    _dir: tempfile::TempDir,
}

impl Vrrpd {
    /// Writes `conf` and starts `vrrpd -f CONF -n -l -D` in `ns`.
    pub fn start(ns: &str, conf: &str) -> io::Result<Vrrpd> {
        Vrrpd::start_with(ns, conf, &[])
    }

    /// [`Vrrpd::start`] with `extra` arguments (e.g. `--metrics-addr`).
    pub fn start_with(ns: &str, conf: &str, extra: &[&str]) -> io::Result<Vrrpd> {
        let dir = tempfile::Builder::new().prefix("vrrpd-test").tempdir()?;
        let path = dir.path().join("keepalived.conf");
        std::fs::write(&path, conf)?;
        let status = format!("127.0.0.1:{STATUS_PORT}");
        let proc = spawn(
            ns,
            [
                env!("CARGO_BIN_EXE_vrrpd"),
                "-f",
                path.to_str().expect("utf-8 temp path"),
                "-n",
                "-l",
                "-D",
                "--status-addr",
                &status,
            ]
            .into_iter()
            .chain(extra.iter().copied()),
        )?;
        Ok(Vrrpd {
            ns: ns.to_string(),
            proc,
            conf: path,
            _dir: dir,
        })
    }

    /// Starts `vrrpd` with `conf` on `node` of `lab` (see [`Vrrpd::start`]).
    pub fn on(lab: &Lab, node: &str, conf: &str) -> Vrrpd {
        Vrrpd::start(lab.node(node).ns(), conf).unwrap_or_else(|e| panic!("vrrpd on {node}: {e}"))
    }

    /// The daemon's status, parsed.
    pub fn status(&self) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{STATUS_PORT}/status");
        let out = exec(&self.ns, ["curl", "-s", "--max-time", "2", &url]).expect("curl runs");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status of vrrpd in {}: {e}: {:?}\nlog:\n{}",
                self.ns,
                String::from_utf8_lossy(&out.stdout),
                self.proc.log()
            )
        })
    }

    /// State of instance `name` (MASTER, BACKUP, FAULT), or None if the status is not up.
    pub fn state(&self, name: &str) -> Option<String> {
        let url = format!("http://127.0.0.1:{STATUS_PORT}/status");
        let out = exec(&self.ns, ["curl", "-s", "--max-time", "2", &url]).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .and_then(|i| i["state"].as_str().map(str::to_string))
    }

    /// A counter of instance `name` (`drops.X` for a drop reason).
    pub fn counter(&self, name: &str, counter: &str) -> u64 {
        let status = self.status();
        let inst = status["instances"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == name))
            .cloned()
            .unwrap_or_default();
        let value = match counter.strip_prefix("drops.") {
            Some(reason) => &inst["counters"]["drops"][reason],
            None => &inst["counters"][counter],
        };
        value.as_u64().unwrap_or(0)
    }

    /// Replaces the config file and sends SIGHUP.
    pub fn reload(&mut self, conf: &str) {
        std::fs::write(&self.conf, conf).expect("config rewritten");
        self.proc.signal(Signal::SIGHUP).expect("SIGHUP sent");
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.proc.log()
    }
}

/// Whether `addr` is on interface eth0 in `ns`.
pub fn has_vip(ns: &str, addr: IpAddr) -> bool {
    testkit::addresses(ns, "eth0").is_ok_and(|a| a.contains(&addr))
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns the time it took.
pub fn within(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() <= limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// VRRP timing: v3 Master_Down_Interval for `priority` and `advert_cs`, in microseconds:
/// 3 × interval + (256 − priority) × interval / 256.
pub fn v3_master_down(priority: u32, advert_cs: u32) -> Duration {
    let us = advert_cs * 10_000;
    Duration::from_micros(u64::from(3 * us + (256 - priority) * us / 256))
}

/// Writes `body` as a `/bin/sh` script `name` in `dir` with permissions `mode`.
pub fn write_script(dir: &std::path::Path, name: &str, body: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}
