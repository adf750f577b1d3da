//! Notify scripts (keepalived's `notify_master`, ..., `notify`) of instances and of sync
//! groups: one mapping from a state to its scripts for both.

use crate::config::Notify;
use crate::fsm::State;

use super::{scripts, Daemon};

/// The commands `notify` runs for `state`, each with the label logged for it: the state's
/// own script (`notify_master`, `notify_backup`, `notify_fault`, `notify_stop`), then the
/// generic `notify` with keepalived's arguments `any_args` and the state's name appended.
fn commands(
    notify: &Notify,
    state: State,
    what: &str,
    any_args: [&str; 2],
    priority: Option<u8>,
) -> Vec<(Vec<String>, String)> {
    let specific = match state {
        State::Master => &notify.master,
        State::Backup => &notify.backup,
        State::Fault => &notify.fault,
        State::Initialize => &notify.stop,
    };
    let what = format!("{what} {}", state.keepalived_name());
    let mut out = Vec::new();
    if let Some(argv) = specific {
        out.push((argv.clone(), what.clone()));
    }
    if let Some(argv) = &notify.any {
        let mut argv = argv.clone();
        argv.extend(any_args.map(str::to_string));
        argv.push(state.keepalived_name().to_string());
        argv.extend(priority.map(|p| p.to_string()));
        out.push((argv, what));
    }
    out
}

impl Daemon {
    fn spawn_notify(&mut self, argv: Vec<String>, what: String) {
        self.notifies.retain(|h| !h.is_finished());
        if let Some(handle) = scripts::notify(argv, &self.policy, what) {
            self.notifies.push(handle);
        }
    }

    /// Runs instance `name`'s notify scripts for `state`; the generic one gets `INSTANCE
    /// name STATE priority`.
    pub(super) fn run_notify(&mut self, name: &str, state: State, prio: u8) {
        let Some(inst) = self.config.instance(name) else {
            return;
        };
        for (argv, what) in commands(&inst.notify, state, name, ["INSTANCE", name], Some(prio)) {
            self.spawn_notify(argv, what);
        }
    }

    /// Runs sync group `group`'s notify scripts for `state`; the generic one gets `GROUP
    /// group STATE`.
    pub(super) fn run_group_notify(&mut self, group: &str, notify: &Notify, state: State) {
        let what = format!("group {group}");
        for (argv, what) in commands(notify, state, &what, ["GROUP", group], None) {
            self.spawn_notify(argv, what);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Option<Vec<String>> {
        Some(s.split(' ').map(str::to_string).collect())
    }

    #[test]
    fn the_state_script_then_the_generic_one_with_keepalived_arguments() {
        let notify = Notify {
            master: argv("/m.sh"),
            any: argv("/any.sh x"),
            ..Notify::default()
        };
        let got = commands(
            &notify,
            State::Master,
            "VI_1",
            ["INSTANCE", "VI_1"],
            Some(100),
        );
        assert_eq!(
            got,
            vec![
                (vec!["/m.sh".to_string()], "VI_1 MASTER".to_string()),
                (
                    ["/any.sh", "x", "INSTANCE", "VI_1", "MASTER", "100"]
                        .map(str::to_string)
                        .to_vec(),
                    "VI_1 MASTER".to_string()
                ),
            ]
        );
        let got = commands(&notify, State::Initialize, "group G", ["GROUP", "G"], None);
        assert_eq!(
            got,
            vec![(
                ["/any.sh", "x", "GROUP", "G", "STOP"]
                    .map(str::to_string)
                    .to_vec(),
                "group G STOP".to_string()
            )]
        );
    }
}
