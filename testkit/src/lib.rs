//! Test support for network tests.
