//! `keyword-ref [FILE]`: writes the keyword reference (docs/keywords.md) generated from the
//! parsers' tables to FILE, or to standard output.

use std::process::ExitCode;

fn main() -> ExitCode {
    let text = bins::keyword_ref::markdown();
    match std::env::args_os().nth(1) {
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(&path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("keyword-ref: writing {}: {e}", path.to_string_lossy());
                ExitCode::from(1)
            }
        },
    }
}
