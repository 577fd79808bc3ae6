//! `cargo fuzz run normalize_path`: normalization never panics, and what it accepts is
//! canonical (idempotent, no `//`, `/./`, `/../`, no `;` unless allowed), under both settings of
//! `--allow-path-semicolons`; query reading never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trellis::normalize::{forwarded_query, normalize_path, query_pairs, PathRules};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = text.split_once('?').unwrap_or((text, ""));
    let mut forwarded = String::new();
    forwarded_query(query, &mut forwarded);
    let _ = query_pairs(forwarded.strip_prefix('?').unwrap_or(""));
    for allow_semicolons in [false, true] {
        let rules = PathRules { allow_semicolons };
        if let Ok(once) = normalize_path(path, rules) {
            assert!(once.starts_with('/'));
            assert!(!once.contains("//") && !once.contains("/./") && !once.contains("/../"));
            assert!(allow_semicolons || !once.contains(';'));
            assert_eq!(normalize_path(&once, rules).as_deref(), Ok(once.as_str()));
        }
    }
});
