//! `cargo fuzz run normalize_path`: normalization never panics, and what it accepts is
//! canonical (idempotent, no `//`, `/./`, `/../`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trellis::normalize::{normalize_path, query_pairs};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = text.split_once('?').unwrap_or((text, ""));
    let _ = query_pairs(query);
    if let Ok(once) = normalize_path(path) {
        assert!(once.starts_with('/'));
        assert!(!once.contains("//") && !once.contains("/./") && !once.contains("/../"));
        assert_eq!(normalize_path(&once).as_deref(), Ok(once.as_str()));
    }
});
