//! No input makes the loader panic or overflow the stack: mutated samples, deep nesting,
//! large files, binary junk.

use std::path::PathBuf;

use vrrp_node::config::{self, ConfigError};

fn samples() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/keepalived");
    let mut out = Vec::new();
    for sub in [dir.clone(), dir.join("bad"), dir.join("include/conf.d")] {
        let mut entries: Vec<_> = std::fs::read_dir(&sub)
            .expect("testdata dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for p in entries {
            out.push(std::fs::read_to_string(&p).expect("utf-8 sample"));
        }
    }
    out
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const PIECES: &[&str] = &[
    "{",
    "}",
    "\"",
    "#",
    "!",
    "\n",
    " ",
    "/",
    ".",
    "-",
    "0",
    "255",
    "256",
    "-1",
    "0.01",
    "::",
    "fd00:198:18::1",
    "198.18.0.1/24",
    "é",
    "\\",
    "weight",
    "version 3",
    "version 2",
    "advert_int 0.5",
    "vrrp_strict",
    "state MASTER",
    "nopreempt",
    "track_script { x }",
    "unicast_peer {\n198.18.0.9\n}",
    "virtual_router_id 1",
    "dev",
    "label",
    "brd",
    "scope",
    "group { VI_1 }",
    "99999999999999999999999",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(4) {
        let at = rng.below(chars.len() + 1);
        match rng.below(4) {
            0 if !chars.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            1 => {
                let piece = PIECES[rng.below(PIECES.len())];
                chars.splice(at..at, piece.chars());
            }
            2 if !chars.is_empty() => {
                // Duplicate a slice, e.g. a whole instance, to make duplicates.
                let start = rng.below(chars.len());
                let end = (start + rng.below(200)).min(chars.len());
                let copy: Vec<char> = chars[start..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ => {
                if let Some(c) = chars.get_mut(at) {
                    *c = PIECES[rng.below(PIECES.len())]
                        .chars()
                        .next()
                        .unwrap_or('x');
                }
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mutated_samples_never_panic() {
    let samples = samples();
    assert!(samples.len() > 20);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0u32, 0u32);
    for round in 0..400 {
        for s in &samples {
            let text = mutate(&mut rng, s);
            // Avoid mutations that turn into includes of whatever is in the cwd.
            if text.contains("include") {
                continue;
            }
            match config::parse_str(&text, "mut.conf") {
                Ok(_) => ok += 1,
                Err(e) => {
                    // Every error but Io has a place in the virtual file.
                    let span = e.span().expect("span");
                    assert!(span.line >= 1, "round {round}: {e}");
                    err += 1;
                }
            }
        }
    }
    // Both outcomes occur, so the mutations exercise more than the lexer.
    assert!(ok > 100 && err > 100, "ok {ok} err {err}");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = "a {\n".repeat(200_000);
    let err = config::parse_str(&text, "deep.conf").expect_err("too deep");
    assert!(
        matches!(err, ConfigError::TooDeep { limit: 16, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "deep.conf:17:3: blocks nested deeper than 16 levels"
    );
    // Braces alone, no keywords.
    let text = "{".repeat(100_000);
    assert!(config::parse_str(&text, "b.conf").is_err());
    let text = "}".repeat(100_000);
    assert!(config::parse_str(&text, "b.conf").is_err());
}

#[test]
fn many_instances_load() {
    let mut text = String::new();
    for i in 0..5000u32 {
        let (vrid, iface) = (i % 255 + 1, i / 255);
        text.push_str(&format!(
            "vrrp_instance VI_{i} {{\n interface e{iface}\n virtual_router_id {vrid}\n virtual_ipaddress {{\n  198.18.{}.{}/32\n }}\n}}\n",
            i / 250,
            i % 250 + 1
        ));
    }
    let l = config::parse_str(&text, "big.conf").expect("loads");
    assert_eq!(l.config.instances.len(), 5000);
    assert_eq!(l.config.instances[4999].name, "VI_4999");
}

#[test]
fn junk_input_is_an_error() {
    let mut rng = Rng(42);
    for _ in 0..300 {
        let len = rng.below(400);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0x7f) as u8).collect();
        let text = String::from_utf8_lossy(&bytes).replace("include", "x");
        let _ = config::parse_str(&text, "junk.conf");
    }
    let long_word = "x".repeat(1 << 20);
    assert!(config::parse_str(&long_word, "long.conf").is_err());
    let long_line = format!("global_defs {{\n router_id {long_word}\n}}\n");
    let l = config::parse_str(&long_line, "long.conf").expect("a long router_id is fine");
    assert_eq!(l.config.global.router_id.map(|s| s.len()), Some(1 << 20));
}

#[test]
fn non_utf8_file_is_an_error_with_its_place() {
    let dir = std::env::temp_dir().join(format!("halb-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("latin1.conf");
    std::fs::write(&path, b"global_defs {\n router_id caf\xe9\n}\n").expect("write");
    let err = config::load(&path).expect_err("not utf-8");
    assert_eq!(
        err.to_string(),
        format!("{}:2:15: text is not valid UTF-8", path.display())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
