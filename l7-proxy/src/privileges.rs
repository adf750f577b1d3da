//! `global` `user`/`group`: drop root after the listeners are bound.

use nix::unistd::{geteuid, getgid, getuid, setgid, setgroups, setuid, Gid, Uid};

/// Why privileges could not be dropped.
#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    /// No such user in /etc/passwd (and not numeric).
    #[error("unknown user '{0}'")]
    UnknownUser(String),
    /// No such group in /etc/group (and not numeric).
    #[error("unknown group '{0}'")]
    UnknownGroup(String),
    /// Changing identity needs root.
    #[error("cannot switch to uid {uid} gid {gid}: not running as root")]
    NotRoot {
        /// Target uid.
        uid: u32,
        /// Target gid.
        gid: u32,
    },
    /// A set*id call failed.
    #[error("{call} failed: {source}")]
    Sys {
        /// The call.
        call: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Finds `name` (or a numeric id) in a passwd/group style file: returns fields 2 and 3.
fn lookup(file: &str, name: &str) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || f[0] != name {
            return None;
        }
        let a = f[2].parse().ok()?;
        let b = f.get(3).and_then(|v| v.parse().ok()).unwrap_or(a);
        Some((a, b))
    })
}

/// Resolves `user`/`group` to (uid, gid): the group defaults to the user's primary group.
pub fn resolve(user: Option<&str>, group: Option<&str>) -> Result<Option<(u32, u32)>, PrivError> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let (cur_uid, cur_gid) = (getuid().as_raw(), getgid().as_raw());
    let (uid, user_gid) = match user {
        None => (cur_uid, cur_gid),
        Some(u) => match u.parse::<u32>() {
            Ok(n) => (n, cur_gid),
            Err(_) => lookup("/etc/passwd", u).ok_or_else(|| PrivError::UnknownUser(u.into()))?,
        },
    };
    let gid = match group {
        None => user_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup("/etc/group", g)
                .map(|(gid, _)| gid)
                .ok_or_else(|| PrivError::UnknownGroup(g.into()))?,
        },
    };
    Ok(Some((uid, gid)))
}

/// Switches the whole process (all threads) to `uid`/`gid`, dropping supplementary groups.
/// A no-op when already running as them.
pub fn switch_to(uid: u32, gid: u32) -> Result<(), PrivError> {
    if getuid().as_raw() == uid && getgid().as_raw() == gid {
        return Ok(());
    }
    if !geteuid().is_root() {
        return Err(PrivError::NotRoot { uid, gid });
    }
    let sys = |call, r: nix::Result<()>| {
        r.map_err(|e| PrivError::Sys {
            call,
            source: e.into(),
        })
    };
    // glibc applies set*id to every thread of the process.
    sys("setgroups", setgroups(&[]))?;
    sys("setgid", setgid(Gid::from_raw(gid)))?;
    sys("setuid", setuid(Uid::from_raw(uid)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_and_numbers() {
        assert_eq!(resolve(None, None).ok().flatten(), None);
        assert_eq!(resolve(Some("root"), None).ok().flatten(), Some((0, 0)));
        assert_eq!(resolve(Some("0"), Some("0")).ok().flatten(), Some((0, 0)));
        assert!(resolve(Some("no-such-user-xyz"), None).is_err());
        assert!(resolve(None, Some("no-such-group-xyz")).is_err());
    }

    #[test]
    fn switching_to_self_is_a_noop() {
        let (u, g) = (getuid().as_raw(), getgid().as_raw());
        assert!(switch_to(u, g).is_ok());
    }
}
