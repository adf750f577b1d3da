//! Commands run inside a network namespace: one-shot (`exec`) and long-running (`spawn`).

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg};
use nix::unistd::Pid;

pub use nix::sys::signal::Signal;

/// Builds `ip netns exec NS argv...`.
fn ns_command<I, S>(ns: &str, argv: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]);
    cmd.args(argv);
    cmd
}

/// Runs `argv` inside network namespace `ns` (`ip netns exec NS argv...`) and waits for it.
///
/// Returns its output whatever the exit status; see [`exec_ok`] for a checked variant.
pub fn exec<I, S>(ns: &str, argv: I) -> io::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ns_command(ns, argv).stdin(Stdio::null()).output()
}

/// Like [`exec`], but a non-zero exit status is an error that carries the command and its
/// stderr. Returns stdout as a string.
pub fn exec_ok<I, S>(ns: &str, argv: I) -> io::Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let argv: Vec<_> = argv.into_iter().map(|s| s.as_ref().to_owned()).collect();
    let out = exec(ns, &argv)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "`ip netns exec {ns} {}` failed ({}): {}",
            argv.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs a host command (e.g. `ip -n NS ...`, which needs no `netns exec`) and checks its status.
/// Returns stdout.
pub(crate) fn run_ok<I, S>(program: &str, args: I) -> io::Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|s| s.as_ref().to_owned()).collect();
    let out = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "`{program} {}` failed ({}): {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Starts `argv` inside network namespace `ns` as the leader of a new process group, with
/// stdout and stderr going to a log file (see [`ProcessGuard::log`]).
///
/// The process (and its whole process group) is killed with SIGKILL and reaped when the guard
/// is dropped.
pub fn spawn<I, S>(ns: &str, argv: I) -> io::Result<ProcessGuard>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let dir = tempfile::Builder::new().prefix("testkit-proc").tempdir()?;
    spawn_in_dir(ns, argv, dir)
}

/// [`spawn`] with a work directory the caller prepared (it holds the log and lives as long
/// as the guard).
pub(crate) fn spawn_in_dir<I, S>(
    ns: &str,
    argv: I,
    dir: tempfile::TempDir,
) -> io::Result<ProcessGuard>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let argv: Vec<_> = argv.into_iter().map(|s| s.as_ref().to_owned()).collect();
    let log_path = dir.path().join("output.log");
    let log = File::create(&log_path)?;
    let mut cmd = ns_command(ns, &argv);
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let child = cmd.spawn()?;
    Ok(ProcessGuard {
        child,
        status: None,
        description: format!(
            "[{ns}] {}",
            argv.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        log_path,
        dir,
    })
}

/// A process started by [`spawn`] (or [`crate::keepalived`], [`crate::Capture`]).
///
/// Dropping it sends SIGKILL to its whole process group and reaps the leader, so nothing
/// outlives a test, even one that panics.
#[derive(Debug)]
pub struct ProcessGuard {
    child: Child,
    status: Option<ExitStatus>,
    description: String,
    log_path: PathBuf,
    dir: tempfile::TempDir,
}

impl ProcessGuard {
    /// The process id (also its process group id). `ip netns exec` execs the command, so this
    /// is the command's own pid.
    pub fn pid(&self) -> i32 {
        // Linux pids fit in i32 (pid_max <= 2^22).
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }

    /// Sends `sig` to the process itself. Not an error if it has already exited and been
    /// reaped (then nothing is sent).
    pub fn signal(&mut self, sig: Signal) -> io::Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        kill(Pid::from_raw(self.pid()), sig).map_err(io::Error::from)
    }

    /// Sends `sig` to the whole process group (the process and every child it forked that
    /// stayed in the group, e.g. keepalived's VRRP child). Use `Signal::SIGKILL` for a crash
    /// that gives no process a chance to clean up.
    pub fn signal_group(&mut self, sig: Signal) -> io::Result<()> {
        match killpg(Pid::from_raw(self.pid()), sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Returns the exit status if the process has exited (reaping it), without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Waits at most `timeout` for the process to exit; `Ok(None)` if it is still running.
    /// Polls every 5 ms.
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_wait()? {
                return Ok(Some(st));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `sig` to the process, then waits at most `timeout` for it to exit.
    pub fn stop(&mut self, sig: Signal, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        self.signal(sig)?;
        self.wait_timeout(timeout)
    }

    /// SIGKILLs the whole process group and reaps the leader.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.signal_group(Signal::SIGKILL)?;
        if let Some(st) = self.status {
            return Ok(st);
        }
        let st = self.child.wait()?;
        self.status = Some(st);
        Ok(st)
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits at most `timeout` (polling every 10 ms) until the log contains `needle`, e.g.
    /// keepalived's `"Entering MASTER STATE"`. Returns how long it took, or
    /// [`crate::TimedOut`].
    pub fn wait_for_log(
        &self,
        needle: &str,
        timeout: Duration,
    ) -> Result<Duration, crate::TimedOut> {
        crate::wait_until(timeout, Duration::from_millis(10), || {
            self.log().contains(needle)
        })
    }

    /// Path of the file receiving stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// A private temporary directory that lives as long as the guard (config files, pid
    /// files, captures).
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `[ns] argv...`, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let _ = self.kill();
        if std::env::var_os("TESTKIT_KEEP_LOGS").is_some() {
            eprintln!(
                "--- log of {} ---\n{}--- end ---",
                self.description,
                self.log()
            );
        }
    }
}
