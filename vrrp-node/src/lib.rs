//! One VRRP router.
