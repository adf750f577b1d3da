//! The examples run to completion: each is compiled into this test as a module and its
//! `main` called (its own checks return an error when the run goes otherwise).

#[allow(dead_code)]
#[path = "../examples/embedded_proxy.rs"]
mod embedded_proxy;

#[test]
fn embedded_proxy_example_runs() {
    if let Err(e) = embedded_proxy::main() {
        panic!("examples/embedded_proxy.rs: {e}");
    }
}
