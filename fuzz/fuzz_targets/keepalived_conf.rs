//! The keepalived.conf parser on arbitrary text: an error or a config, never a panic, and
//! every error names a position.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `include` reads files from disk (the config tests cover it); here it could name
    // /dev/zero. Keep the fuzzer on the parser itself.
    if text.contains("include") {
        return;
    }
    match vrrp_node::config::parse_str(text, "fuzz.conf") {
        Ok(loaded) => {
            for w in &loaded.warnings {
                let _ = w.to_string();
            }
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.conf"), "{e}"),
    }
});
