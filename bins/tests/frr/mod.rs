//! FRR (Debian `frr`) daemons run by hand in a namespace: zebra, bfdd and bgpd, each
//! instance with its own directory (configs, vty sockets, zserv socket, pid files), so
//! that several run side by side without FRR's systemd service or /etc/frr. The daemons
//! drop privileges to the `frr` user as the package runs them (as root without it, FRR
//! wants root in the `frrvty` group), so the directory is the `frr` user's. Dropping an
//! [`Frr`] kills its daemons (their [`ProcessGuard`]s) and removes the directory.
#![allow(dead_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::{exec, spawn, ProcessGuard, Signal};

const DAEMONS: &str = "/usr/lib/frr";

/// Whether FRR is installed; without it a test fails under `CI=true` (the CI installs
/// `frr`), else it is skipped with a message.
pub fn require_frr(test: &str) -> bool {
    if Path::new(DAEMONS).join("bgpd").exists() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs FRR (apt-get install frr) (CI=true, so not skipping)");
    }
    eprintln!("SKIPPED: {test}: needs FRR (apt-get install frr)");
    false
}

/// One namespace's zebra, bfdd and bgpd.
pub struct Frr {
    /// The namespace.
    pub ns: String,
    /// zebra, bfdd, bgpd (killed when dropped, zebra last).
    daemons: Vec<ProcessGuard>,
    dir: tempfile::TempDir,
}

impl Frr {
    /// Starts zebra, then bfdd with `bfdd_conf` and bgpd with `bgpd_conf`, in `ns`.
    pub fn start(ns: &str, bgpd_conf: &str, bfdd_conf: &str) -> io::Result<Frr> {
        let dir = tempfile::Builder::new().prefix("halb-frr").tempdir()?;
        let frr_user = nix::unistd::User::from_name("frr")
            .ok()
            .flatten()
            .ok_or_else(|| io::Error::other("no frr user (is the frr package installed?)"))?;
        let path = |name: &str| dir.path().join(name);
        for (name, text) in [
            ("zebra.conf", ""),
            ("bfdd.conf", bfdd_conf),
            ("bgpd.conf", bgpd_conf),
        ] {
            std::fs::write(path(name), text)?;
        }
        for p in std::iter::once(dir.path().to_path_buf())
            .chain(["zebra.conf", "bfdd.conf", "bgpd.conf"].map(path))
        {
            nix::unistd::chown(&p, Some(frr_user.uid), Some(frr_user.gid))?;
        }
        let mut frr = Frr {
            ns: ns.to_string(),
            daemons: Vec::new(),
            dir,
        };
        frr.daemon("zebra", &[])?;
        // bfdd and bgpd connect to zebra's socket: it must be there first.
        let zserv = frr.path("zserv.api");
        testkit::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
            zserv.exists()
        })
        .map_err(|e| io::Error::other(format!("zebra in {ns}: no zserv socket: {e}")))?;
        let bfdctl = frr.path("bfdd.sock");
        let bfdctl = bfdctl.to_str().unwrap_or_default().to_string();
        frr.daemon("bfdd", &["--bfdctl", &bfdctl])?;
        frr.daemon("bgpd", &[])?;
        Ok(frr)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `/usr/lib/frr/NAME` in the foreground, everything in this instance's
    /// directory, no vty TCP port, logging to its stdout.
    fn daemon(&mut self, name: &str, extra: &[&str]) -> io::Result<()> {
        let dir = self.dir.path().to_str().unwrap_or_default().to_string();
        let binary = format!("{DAEMONS}/{name}");
        let config = format!("{dir}/{name}.conf");
        let pid = format!("{dir}/{name}.pid");
        let zserv = format!("{dir}/zserv.api");
        let argv: Vec<&str> = [
            binary.as_str(),
            "-P",
            "0",
            "--vty_socket",
            &dir,
            "-z",
            &zserv,
            "-i",
            &pid,
            "-f",
            &config,
            "--log",
            "stdout",
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
        let guard = spawn(&self.ns, argv)?;
        self.daemons.push(guard);
        Ok(())
    }

    /// `vtysh -c COMMAND` against this instance's daemons.
    pub fn vtysh(&self, command: &str) -> String {
        let dir = self.dir.path().to_str().unwrap_or_default();
        match exec(&self.ns, ["vtysh", "--vty_socket", dir, "-c", command]) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) => format!("vtysh: {e}"),
        }
    }

    /// Every daemon's log so far.
    pub fn logs(&self) -> String {
        self.daemons
            .iter()
            .map(|d| d.log())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// SIGKILLs every daemon (a crashed node's routing daemons).
    pub fn kill(&mut self) {
        for d in self.daemons.iter_mut().rev() {
            let _ = d.signal(Signal::SIGKILL);
        }
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        // bgpd and bfdd before zebra, as FRR's own scripts stop them; the guards SIGKILL
        // and reap each.
        while let Some(d) = self.daemons.pop() {
            drop(d);
        }
    }
}
