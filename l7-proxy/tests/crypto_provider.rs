//! The build has one rustls crypto provider, aws-lc-rs (its own process: the test installs
//! the process-wide default).

use rustls::crypto::CryptoProvider;

#[test]
fn rustls_finds_exactly_one_provider_in_the_build_and_it_is_aws_lc_rs() {
    // With no default installed, rustls takes the provider its crate features name; with two
    // (ring and aws-lc-rs) it cannot choose, and `builder()` panics.
    let _ = rustls::ServerConfig::builder();
    let installed = CryptoProvider::get_default().expect("installed from rustls' features");
    let groups = |p: &CryptoProvider| p.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>();
    assert_eq!(
        groups(installed),
        groups(&rustls::crypto::aws_lc_rs::default_provider())
    );
}
