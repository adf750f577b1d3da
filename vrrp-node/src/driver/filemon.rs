//! `track_file`'s OS half, as keepalived does it: each file's directory is watched with
//! inotify (so that a file created, written, renamed into place or deleted is seen, not
//! only one written in place), and the file is read when it is closed after writing or
//! moved in; deleted or moved away it reads 0. Nothing polls. A task owns the watches and
//! reports each file's new value.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::warn;

use crate::config::VrrpTrackFile;
use crate::net::sys::{register, OwnsFd};
use crate::track::file::{parse_value, MAX_READ};

/// A file's value, reported when it changes and for all at each configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileValue {
    /// The `track_file` name.
    pub name: String,
    /// Its number (see [`parse_value`]).
    pub value: i32,
}

/// Why files cannot be tracked as configured.
#[derive(Debug, thiserror::Error)]
pub enum FileTrackError {
    /// No inotify instance (too many open, say).
    #[error("inotify: {0}")]
    Inotify(io::Error),
    /// One file cannot be watched or initialised.
    #[error("track_file {name}: {what}")]
    File {
        /// The `track_file` name.
        name: String,
        /// What went wrong.
        what: String,
    },
    /// The task is gone.
    #[error("the track_file task has stopped")]
    Stopped,
}

struct Configure {
    files: Vec<VrrpTrackFile>,
    reply: oneshot::Sender<Result<Vec<FileValue>, FileTrackError>>,
}

/// The running file tracker; dropping it stops the task and its watches.
#[derive(Debug)]
pub struct FileMonitor {
    control: mpsc::Sender<Configure>,
    task: JoinHandle<()>,
}

impl FileMonitor {
    /// Starts the task, which sends each value change on `reports`. Watches nothing until
    /// [`FileMonitor::configure`].
    pub fn start(reports: mpsc::Sender<FileValue>) -> FileMonitor {
        let (control, control_rx) = mpsc::channel(4);
        let task = tokio::spawn(run(control_rx, reports));
        FileMonitor { control, task }
    }

    /// Watches `files` from now on, with `init_file` applied to those not watched before;
    /// returns each one's value now. On error the previous watches stay.
    pub async fn configure(
        &self,
        files: Vec<VrrpTrackFile>,
    ) -> Result<Vec<FileValue>, FileTrackError> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Configure { files, reply })
            .await
            .map_err(|_| FileTrackError::Stopped)?;
        answer.await.map_err(|_| FileTrackError::Stopped)?
    }
}

impl Drop for FileMonitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An inotify instance as tokio's reactor takes it (`AsRawFd`; nix's type offers `AsFd`).
#[derive(Debug)]
struct Notify(Inotify);

impl AsRawFd for Notify {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

// SAFETY: `Notify` owns the inotify fd (nix's `Inotify` holds an `OwnedFd`) and never
// replaces it.
#[allow(unsafe_code)]
unsafe impl OwnsFd for Notify {}

/// One watched file.
#[derive(Debug)]
struct Watch {
    name: String,
    /// The directory's watch (shared by the files in one directory).
    wd: WatchDescriptor,
    /// The file's name in it.
    file_name: OsString,
    path: PathBuf,
    value: i32,
}

/// Every watch of one configuration, on its own inotify instance.
struct Watches {
    fd: AsyncFd<Notify>,
    files: Vec<Watch>,
}

/// What the directory watches listen for: the file closed after writing, moved in or out,
/// deleted; the directory itself going away.
fn watch_flags() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
}

impl Watches {
    /// Watches for `files`; `init_file` applied to those whose names are not in `known`.
    fn new(files: &[VrrpTrackFile], known: &HashSet<String>) -> Result<Watches, FileTrackError> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| FileTrackError::Inotify(e.into()))?;
        let mut watched = Vec::new();
        for f in files {
            let fail = |what: String| FileTrackError::File {
                name: f.name.clone(),
                what,
            };
            if !known.contains(&f.name) {
                init_file(f).map_err(fail)?;
            }
            let (dir, file_name) = resolve(&f.path).map_err(fail)?;
            let wd = inotify
                .add_watch(&dir, watch_flags())
                .map_err(|e| fail(format!("watching {}: {e}", dir.display())))?;
            let path = dir.join(&file_name);
            let value = read_value(&path);
            watched.push(Watch {
                name: f.name.clone(),
                wd,
                file_name,
                path,
                value,
            });
        }
        let fd = register(Notify(inotify), Interest::READABLE).map_err(FileTrackError::Inotify)?;
        Ok(Watches { fd, files: watched })
    }

    fn values(&self) -> Vec<FileValue> {
        self.files
            .iter()
            .map(|w| FileValue {
                name: w.name.clone(),
                value: w.value,
            })
            .collect()
    }

    /// One inotify event; the values it changed.
    fn apply(&mut self, ev: &InotifyEvent, changed: &mut Vec<FileValue>) {
        let gone = AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF;
        for w in self.files.iter_mut().filter(|w| w.wd == ev.wd) {
            let value = if ev.mask.intersects(gone) {
                warn!(track_file = %w.name, "the directory of {} is gone: value 0 until a reload", w.path.display());
                0
            } else if ev.mask.contains(AddWatchFlags::IN_IGNORED) {
                // The watch ended (after the directory went): nothing more will come.
                0
            } else if ev.mask.contains(AddWatchFlags::IN_ISDIR)
                || ev.name.as_deref() != Some(w.file_name.as_os_str())
            {
                continue;
            } else if ev
                .mask
                .intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM)
            {
                // keepalived: a file that disappeared reads 0.
                0
            } else {
                read_value(&w.path)
            };
            if value != w.value {
                w.value = value;
                changed.push(FileValue {
                    name: w.name.clone(),
                    value,
                });
            }
        }
    }

    /// Every file read again (the kernel's event queue overflowed).
    fn reread(&mut self, changed: &mut Vec<FileValue>) {
        for w in &mut self.files {
            let value = read_value(&w.path);
            if value != w.value {
                w.value = value;
                changed.push(FileValue {
                    name: w.name.clone(),
                    value,
                });
            }
        }
    }
}

/// Whether `f` can be watched: its directory exists (keepalived drops a `track_file` whose
/// directory does not; vrrpd refuses the configuration instead of ignoring it).
pub fn check_directory(f: &VrrpTrackFile) -> Result<(), FileTrackError> {
    resolve(&f.path)
        .map(drop)
        .map_err(|what| FileTrackError::File {
            name: f.name.clone(),
            what,
        })
}

/// `init_file`: the value written when the file does not exist, or always with `overwrite`.
fn init_file(f: &VrrpTrackFile) -> Result<(), String> {
    let Some(init) = f.init_file else {
        return Ok(());
    };
    if init.overwrite || !f.path.exists() {
        std::fs::write(&f.path, format!("{}\n", init.value))
            .map_err(|e| format!("init_file {}: {e}", f.path.display()))?;
    }
    Ok(())
}

/// The directory to watch and the file's name in it, symbolic links resolved as keepalived
/// resolves them (the file's if it exists, else its directory's, which must exist).
fn resolve(path: &Path) -> Result<(PathBuf, OsString), String> {
    let full = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(_) => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let real_dir = std::fs::canonicalize(dir)
                .ok()
                .filter(|d| d.is_dir())
                .ok_or_else(|| format!("directory {} does not exist", dir.display()))?;
            let name = path
                .file_name()
                .ok_or_else(|| format!("{} names no file", path.display()))?;
            real_dir.join(name)
        }
    };
    match (full.parent(), full.file_name()) {
        (Some(dir), Some(name)) => Ok((dir.to_path_buf(), name.to_os_string())),
        _ => Err(format!("{} names no file", path.display())),
    }
}

/// The file's value: its first bytes read without blocking (a FIFO has nothing to block
/// on); a file that cannot be read is 0, as in keepalived.
fn read_value(path: &Path) -> i32 {
    let mut buf = Vec::with_capacity(MAX_READ);
    let read = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .and_then(|f| f.take(MAX_READ as u64).read_to_end(&mut buf));
    match read {
        Ok(_) => parse_value(&buf),
        Err(_) => 0,
    }
}

/// The task: configurations and inotify events in, value changes out.
async fn run(mut control: mpsc::Receiver<Configure>, reports: mpsc::Sender<FileValue>) {
    let mut watches: Option<Watches> = None;
    loop {
        let mut changed = Vec::new();
        tokio::select! {
            cmd = control.recv() => {
                let Some(cmd) = cmd else { return };
                let known: HashSet<String> = watches
                    .iter()
                    .flat_map(|w| w.files.iter().map(|f| f.name.clone()))
                    .collect();
                let answer = Watches::new(&cmd.files, &known).map(|w| {
                    let values = w.values();
                    watches = Some(w);
                    values
                });
                let _ = cmd.reply.send(answer);
            }
            events = next_events(watches.as_ref()) => match events {
                Ok(events) => {
                    if let Some(w) = watches.as_mut() {
                        for ev in &events {
                            if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                                warn!("inotify queue overflow: every track_file read again");
                                w.reread(&mut changed);
                            } else {
                                w.apply(ev, &mut changed);
                            }
                        }
                    }
                }
                Err(e) => {
                    warn!("track_file: reading inotify events: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
        }
        for c in changed {
            if reports.send(c).await.is_err() {
                return;
            }
        }
    }
}

/// The next batch of inotify events (never, without watches).
async fn next_events(watches: Option<&Watches>) -> io::Result<Vec<InotifyEvent>> {
    let Some(w) = watches else {
        return std::future::pending().await;
    };
    loop {
        let mut guard = w.fd.readable().await?;
        match guard.try_io(|n| n.get_ref().0.read_events().map_err(io::Error::from)) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_resolves_through_its_directory_which_must_exist() {
        let dir = tempfile_dir();
        let (d, name) = resolve(&dir.join("later")).expect("resolves");
        assert_eq!(d, std::fs::canonicalize(&dir).expect("dir"));
        assert_eq!(name, "later");
        let err = resolve(&dir.join("nope/later")).expect_err("no directory");
        assert!(err.contains("does not exist"), "{err}");
        std::fs::write(dir.join("now"), "5\n").expect("write");
        assert_eq!(read_value(&dir.join("now")), 5);
        assert_eq!(read_value(&dir.join("later")), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vrrpd-filemon-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
