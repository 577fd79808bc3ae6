use super::*;
use proptest::prelude::*;

fn norm(s: &str) -> String {
    normalize_path(s).unwrap_or_else(|e| panic!("`{s}` should normalize: {e}"))
}

#[test]
fn plain_paths_are_unchanged() {
    for p in [
        "/",
        "/a",
        "/a/b",
        "/a/b/",
        "/orders/7",
        "/a;b=c/d:e@f",
        "/~user/x-y_z.json",
    ] {
        assert_eq!(norm(p), p);
    }
}

#[test]
fn empty_path_is_root() {
    assert_eq!(norm(""), "/");
}

#[test]
fn repeated_slashes_are_merged() {
    assert_eq!(norm("//"), "/");
    assert_eq!(norm("//a///b//"), "/a/b/");
}

#[test]
fn dot_segments_are_removed() {
    assert_eq!(norm("/a/./b"), "/a/b");
    assert_eq!(norm("/a/."), "/a/");
    assert_eq!(norm("/a/b/.."), "/a/");
    assert_eq!(norm("/a/b/../c"), "/a/c");
    assert_eq!(norm("/a/b/../../"), "/");
}

#[test]
fn encoded_dots_are_dots_after_decoding() {
    assert_eq!(norm("/public/%2e%2E/admin"), "/admin");
    assert_eq!(norm("/a/%2e/b"), "/a/b");
    assert_eq!(norm("/a/.%2e/b"), "/b");
    assert_eq!(norm("/a/%2E"), "/a/");
}

#[test]
fn unreserved_characters_are_decoded() {
    assert_eq!(norm("/%61dmin"), "/admin");
    assert_eq!(norm("/%7Euser/%2D%5F%2E"), "/~user/-_.");
}

#[test]
fn other_escapes_get_uppercase_hex() {
    assert_eq!(norm("/a%3ab"), "/a%3Ab");
    assert_eq!(norm("/caf%c3%a9"), "/caf%C3%A9");
    assert_eq!(norm("/a%20b"), "/a%20b");
}

#[test]
fn bytes_outside_pchar_are_encoded() {
    assert_eq!(norm("/a b"), "/a%20b");
    assert_eq!(norm("/{x}|^"), "/%7Bx%7D%7C%5E");
    assert_eq!(norm("/café"), "/caf%C3%A9");
}

#[test]
fn encoded_slash_and_backslash_are_rejected_in_any_case() {
    for p in ["/a%2Fb", "/a%2fb", "/a%5Cb", "/a%5cb", "/%2f", "/x/%2F../y"] {
        assert_eq!(normalize_path(p), Err(PathError::EncodedSeparator), "{p}");
    }
}

#[test]
fn raw_backslash_is_rejected() {
    assert_eq!(normalize_path("/a\\b"), Err(PathError::Backslash));
}

#[test]
fn nul_is_rejected_raw_or_encoded() {
    assert_eq!(normalize_path("/a%00b"), Err(PathError::Nul));
    assert_eq!(normalize_path("/a\0b"), Err(PathError::Nul));
}

#[test]
fn climbing_above_root_is_rejected() {
    for p in [
        "/..",
        "/../a",
        "/a/../..",
        "/a/../../b",
        "/%2e%2e/etc/passwd",
        "/a/%2E%2E/%2e%2e/",
    ] {
        assert_eq!(normalize_path(p), Err(PathError::AboveRoot), "{p}");
    }
}

#[test]
fn malformed_percent_is_rejected() {
    for p in ["/a%", "/a%2", "/a%zz", "/%g0"] {
        assert_eq!(normalize_path(p), Err(PathError::BadPercentEncoding), "{p}");
    }
}

#[test]
fn non_absolute_targets_are_rejected() {
    assert!(matches!(
        normalize_path("*"),
        Err(PathError::NotAbsolute(_))
    ));
    assert!(matches!(
        normalize_path("a/b"),
        Err(PathError::NotAbsolute(_))
    ));
}

#[test]
fn query_pairs_decode_and_keep_repeats_and_plus() {
    let pairs = query_pairs("tag=a&tag=b&x=1+2&sp=%20&flag&&k%3D=v%3d&bad=%zz");
    let expected: Vec<(String, String)> = [
        ("tag", "a"),
        ("tag", "b"),
        ("x", "1+2"),
        ("sp", " "),
        ("flag", ""),
        ("k=", "v="),
        ("bad", "%zz"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(pairs, expected);
}

#[test]
fn normalized_path_keeps_the_raw_query() {
    let n = NormalizedPath::new("/a/../b", Some("x=%2F&y=1+1")).unwrap();
    assert_eq!(n.path(), "/b");
    assert_eq!(n.raw_query(), Some("x=%2F&y=1+1"));
    assert_eq!(n.path_and_query(), "/b?x=%2F&y=1+1");
    assert_eq!(n.query_pairs()[0], ("x".to_owned(), "/".to_owned()));
}

fn path_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e".to_owned()),
        Just("%2E".to_owned()),
        Just("%41".to_owned()),
        Just("%3a".to_owned()),
        Just("%c3%A9".to_owned()),
        "[a-zA-Z0-9~_.;:@ é{}-]{1,4}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| format!("/{}", v.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn normalization_is_idempotent_and_canonical(raw in path_strategy()) {
        if let Ok(once) = normalize_path(&raw) {
            prop_assert!(once.starts_with('/'));
            prop_assert!(!once.contains("//"), "{once}");
            prop_assert!(!once.contains("/./"), "{once}");
            prop_assert!(!once.contains("/../"), "{once}");
            prop_assert!(!once.ends_with("/.") && !once.ends_with("/.."), "{once}");
            prop_assert_eq!(normalize_path(&once), Ok(once.clone()));
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_and_stay_canonical(raw in "/\\PC{0,40}") {
        if let Ok(once) = normalize_path(&raw) {
            prop_assert!(!once.contains("//"));
            prop_assert_eq!(normalize_path(&once), Ok(once.clone()));
        }
    }
}
