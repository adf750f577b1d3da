//! The haproxy.cfg parser on arbitrary text: a config or positioned errors, never a panic.
//! Runs offline (no DNS for server host names).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match l7_proxy::config::parse_str_offline("fuzz.cfg", text) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                assert!(w.line >= 1 && w.col >= 1);
            }
            // Every reference was checked: default backends exist.
            for f in &loaded.config.frontends {
                if let Some(b) = &f.default_backend {
                    assert!(loaded.config.backend(b).is_some());
                }
            }
        }
        Err(l7_proxy::config::ConfigError::Invalid { diagnostics }) => {
            assert!(!diagnostics.is_empty());
            for d in &diagnostics {
                assert!(d.line >= 1 && d.col >= 1);
                let _ = d.to_string();
            }
        }
        Err(e) => panic!("unexpected error kind: {e}"),
    }
});
