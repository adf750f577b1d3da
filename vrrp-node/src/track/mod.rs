//! Tracked processes and files, sans-IO: what the kernel's process events connector sends
//! ([`cn_proc`]), which processes each `vrrp_track_process` counts and when its quorum
//! counts as gained or lost ([`process`]), and what a tracked file's contents mean
//! ([`file`]). The driver reads the sockets and files and passes the time in.

pub mod cn_proc;
pub mod file;
pub mod process;
