//! What the kernel's rtnetlink answers mean, for [`crate::vip`] and [`crate::route`]: the
//! errno of a refused request.

use rtnetlink::packet_core::ErrorMessage;

/// The errno the kernel refused a request with (`None`: not a refusal of the kernel's).
pub(crate) fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => answer_errno(msg),
        _ => None,
    }
}

/// The errno of the kernel's answer to a request (`None`: an acknowledgement). The
/// message carries it negated (netlink(7), `struct nlmsgerr`).
pub(crate) fn answer_errno(msg: &ErrorMessage) -> Option<i32> {
    msg.code.map(|c| -c.get())
}
