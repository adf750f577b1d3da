//! The real keepalived as a peer, and a small keepalived.conf writer shared with vrrpd.

use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

use crate::process::{spawn_in_dir, ProcessGuard};

/// Starts the real keepalived (VRRP only) in namespace `ns` with `conf` as its configuration.
///
/// The config, every pid file and the dumps it writes on signals (its TMPDIR) live in the
/// guard's [`ProcessGuard::work_dir`], so several keepalived run side by side in different
/// namespaces: `TMPDIR=DIR keepalived -n -l -D -G -P -f DIR/keepalived.conf
/// -p DIR/keepalived.pid -r DIR/vrrp.pid -c DIR/checkers.pid -b DIR/bfd.pid`. Its console
/// log is in [`ProcessGuard::log`].
///
/// keepalived forks a VRRP child in the same process group: to crash it use
/// `guard.signal_group(Signal::SIGKILL)` (SIGKILL of the parent alone makes the child shut
/// down gracefully); for a graceful stop, `guard.signal(Signal::SIGTERM)`; to reload, write
/// [`keepalived_conf_path`] and send SIGHUP.
pub fn keepalived(ns: &str, conf: &str) -> io::Result<ProcessGuard> {
    let dir = tempfile::Builder::new().prefix("testkit-ka").tempdir()?;
    let p = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let conf_path = p("keepalived.conf");
    std::fs::write(&conf_path, conf)?;
    let argv = vec![
        // Its dumps (keepalived.data, .stats, .json on SIGUSR1, SIGUSR2, its JSON signal) go
        // to the work dir too, not to a /tmp shared with other tests.
        "env".to_owned(),
        format!("TMPDIR={}", dir.path().display()),
        "keepalived".to_owned(),
        "-n".into(),
        "-l".into(),
        "-D".into(),
        "-G".into(),
        "-P".into(),
        "-f".into(),
        conf_path,
        "-p".into(),
        p("keepalived.pid"),
        "-r".into(),
        p("vrrp.pid"),
        "-c".into(),
        p("checkers.pid"),
        "-b".into(),
        p("bfd.pid"),
    ];
    spawn_in_dir(ns, &argv, dir)
}

/// Starts a VRRP daemon that takes keepalived's flags (our `vrrpd`) in namespace `ns`:
/// `BINARY -n -l -D -f DIR/keepalived.conf EXTRA...`, with `conf` written to that file in
/// the guard's [`ProcessGuard::work_dir`] (so [`keepalived_conf_path`] finds it for a
/// SIGHUP reload). Its log is in [`ProcessGuard::log`].
pub fn vrrpd(
    ns: &str,
    binary: &std::path::Path,
    conf: &str,
    extra: &[&str],
) -> io::Result<ProcessGuard> {
    let dir = tempfile::Builder::new().prefix("testkit-vrrpd").tempdir()?;
    let conf_path = dir.path().join("keepalived.conf");
    std::fs::write(&conf_path, conf)?;
    let mut argv: Vec<std::ffi::OsString> = vec![
        binary.into(),
        "-n".into(),
        "-l".into(),
        "-D".into(),
        "-f".into(),
        conf_path.into(),
    ];
    argv.extend(extra.iter().map(|e| e.into()));
    spawn_in_dir(ns, &argv, dir)
}

/// Where [`keepalived`] (or [`vrrpd`]) put the config of the instance behind `guard`.
pub fn keepalived_conf_path(guard: &ProcessGuard) -> PathBuf {
    guard.work_dir().join("keepalived.conf")
}

/// The pid of keepalived's VRRP child, read from its pid file, if it is there yet.
pub fn keepalived_vrrp_pid(guard: &ProcessGuard) -> Option<i32> {
    std::fs::read_to_string(guard.work_dir().join("vrrp.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// One `vrrp_instance` block, for [`KeepalivedConf`]. Start from `VrrpInstance::new` and set
/// fields.
#[derive(Debug, Clone)]
pub struct VrrpInstance {
    /// Instance name (`vrrp_instance NAME`).
    pub name: String,
    /// `state MASTER|BACKUP`.
    pub state: String,
    /// `interface`.
    pub interface: String,
    /// `virtual_router_id`.
    pub vrid: u8,
    /// `priority`.
    pub priority: u8,
    /// `advert_int`, as written (e.g. `"1"`, `"0.1"`).
    pub advert_int: String,
    /// `version` inside the instance (None: the global `vrrp_version`).
    pub version: Option<u8>,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `virtual_ipaddress` entries, e.g. `"198.18.0.100/24"`.
    pub vips: Vec<String>,
    /// `unicast_src_ip`.
    pub unicast_src_ip: Option<String>,
    /// `unicast_peer { }` entries.
    pub unicast_peers: Vec<String>,
    /// `authentication { auth_type PASS auth_pass X }`.
    pub auth_pass: Option<String>,
    /// Extra lines copied verbatim into the block (e.g. `"garp_master_delay 0"`).
    pub extra: Vec<String>,
}

impl VrrpInstance {
    /// An instance `name` on `interface` with VRID `vrid` and `priority`; state BACKUP,
    /// `advert_int 1`, no VIPs.
    pub fn new(name: &str, interface: &str, vrid: u8, priority: u8) -> VrrpInstance {
        VrrpInstance {
            name: name.to_owned(),
            state: "BACKUP".to_owned(),
            interface: interface.to_owned(),
            vrid,
            priority,
            advert_int: "1".to_owned(),
            version: None,
            nopreempt: false,
            vips: Vec::new(),
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            auth_pass: None,
            extra: Vec::new(),
        }
    }
}

/// A keepalived.conf (VRRP part only) that both keepalived and vrrpd read.
#[derive(Debug, Clone, Default)]
pub struct KeepalivedConf {
    /// `global_defs { router_id }`.
    pub router_id: Option<String>,
    /// `global_defs { vrrp_version }`.
    pub vrrp_version: Option<u8>,
    /// Extra `global_defs` lines, verbatim.
    pub global_extra: Vec<String>,
    /// The instances.
    pub instances: Vec<VrrpInstance>,
}

impl KeepalivedConf {
    /// The configuration text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_to(&mut s);
        s
    }

    fn write_to(&self, s: &mut String) -> std::fmt::Result {
        writeln!(s, "global_defs {{")?;
        if let Some(r) = &self.router_id {
            writeln!(s, "    router_id {r}")?;
        }
        if let Some(v) = self.vrrp_version {
            writeln!(s, "    vrrp_version {v}")?;
        }
        for l in &self.global_extra {
            writeln!(s, "    {l}")?;
        }
        writeln!(s, "}}")?;
        for i in &self.instances {
            writeln!(s, "\nvrrp_instance {} {{", i.name)?;
            writeln!(s, "    state {}", i.state)?;
            writeln!(s, "    interface {}", i.interface)?;
            writeln!(s, "    virtual_router_id {}", i.vrid)?;
            writeln!(s, "    priority {}", i.priority)?;
            writeln!(s, "    advert_int {}", i.advert_int)?;
            if let Some(v) = i.version {
                writeln!(s, "    version {v}")?;
            }
            if i.nopreempt {
                writeln!(s, "    nopreempt")?;
            }
            if let Some(a) = &i.auth_pass {
                writeln!(
                    s,
                    "    authentication {{\n        auth_type PASS\n        auth_pass {a}\n    }}"
                )?;
            }
            if let Some(src) = &i.unicast_src_ip {
                writeln!(s, "    unicast_src_ip {src}")?;
            }
            if !i.unicast_peers.is_empty() {
                writeln!(s, "    unicast_peer {{")?;
                for p in &i.unicast_peers {
                    writeln!(s, "        {p}")?;
                }
                writeln!(s, "    }}")?;
            }
            for l in &i.extra {
                writeln!(s, "    {l}")?;
            }
            writeln!(s, "    virtual_ipaddress {{")?;
            for v in &i.vips {
                writeln!(s, "        {v}")?;
            }
            writeln!(s, "    }}")?;
            writeln!(s, "}}")?;
        }
        Ok(())
    }
}
