//! The examples run to completion: each is compiled into this test as a module and its
//! `main` called (its own checks return an error when the run goes otherwise).

#[allow(dead_code)]
#[path = "../examples/two_routers.rs"]
mod two_routers;

#[test]
fn two_routers_example_runs() {
    if let Err(e) = two_routers::main() {
        panic!("examples/two_routers.rs: {e}");
    }
}
