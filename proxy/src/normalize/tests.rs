use super::*;
use proptest::prelude::*;

const STRICT: PathRules = PathRules {
    allow_semicolons: false,
};
const SEMICOLONS: PathRules = PathRules {
    allow_semicolons: true,
};

fn norm(s: &str) -> String {
    normalize_path(s, STRICT).unwrap_or_else(|e| panic!("`{s}` should normalize: {e}"))
}

fn norm_with(s: &str, rules: PathRules) -> String {
    normalize_path(s, rules).unwrap_or_else(|e| panic!("`{s}` should normalize: {e}"))
}

fn strict(s: &str) -> Result<String, PathError> {
    normalize_path(s, STRICT)
}

#[test]
fn plain_paths_are_unchanged() {
    for p in [
        "/",
        "/a",
        "/a/b",
        "/a/b/",
        "/orders/7",
        "/a!b$c&d'e(f)g*h+i,j=k/d:e@f",
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
fn escapes_outside_pchar_stay_encoded_in_uppercase_hex() {
    assert_eq!(norm("/caf%c3%a9"), "/caf%C3%A9");
    assert_eq!(norm("/a%20b"), "/a%20b");
    assert_eq!(
        norm("/a%3fb%23c%22%3c%3E%5b%5D%7b%7c%7D%5e%60"),
        "/a%3Fb%23c%22%3C%3E%5B%5D%7B%7C%7D%5E%60"
    );
    assert_eq!(norm("/100%25"), "/100%25");
    assert_eq!(norm("/%25zz"), "/%25zz");
}

#[test]
fn a_percent_encoded_colon_is_decoded_for_policy_and_upstream() {
    assert_eq!(norm("/projects/p1%3Adelete"), "/projects/p1:delete");
    assert_eq!(norm("/projects/p1%3adelete"), "/projects/p1:delete");
    let n = NormalizedPath::new("/projects/p1%3Adelete", Some("a=%3A")).unwrap();
    assert_eq!(n.path(), "/projects/p1:delete");
    assert_eq!(n.path_and_query(), "/projects/p1:delete?a=%3A");
}

#[test]
fn every_escape_of_a_pchar_is_decoded() {
    // Sub-delims (less `;`, see below), `:` and `@`, in both hex cases.
    for c in "!$&'()*+,=:@".chars() {
        let code = u32::from(c);
        for raw in [format!("/a%{code:02X}b"), format!("/a%{code:02x}b")] {
            assert_eq!(norm(&raw), format!("/a{c}b"), "{raw}");
        }
    }
    // `;` is a pchar too, decoded when semicolons are allowed.
    assert_eq!(norm_with("/a%3Bb", SEMICOLONS), "/a;b");
    assert_eq!(norm_with("/a%3bb", SEMICOLONS), "/a;b");
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
        assert_eq!(strict(p), Err(PathError::EncodedSeparator), "{p}");
    }
}

#[test]
fn raw_backslash_is_rejected() {
    assert_eq!(strict("/a\\b"), Err(PathError::Backslash));
}

#[test]
fn nul_is_rejected_raw_or_encoded() {
    assert_eq!(strict("/a%00b"), Err(PathError::Nul));
    assert_eq!(strict("/a\0b"), Err(PathError::Nul));
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
        assert_eq!(strict(p), Err(PathError::AboveRoot), "{p}");
    }
}

#[test]
fn malformed_percent_is_rejected() {
    for p in ["/a%", "/a%2", "/a%zz", "/%g0"] {
        assert_eq!(strict(p), Err(PathError::BadPercentEncoding), "{p}");
    }
}

#[test]
fn non_absolute_targets_are_rejected() {
    assert!(matches!(strict("*"), Err(PathError::NotAbsolute(_))));
    assert!(matches!(strict("a/b"), Err(PathError::NotAbsolute(_))));
}

#[test]
fn query_pairs_are_form_decoded_with_repeats() {
    let pairs = query_pairs("tag=a&tag=b&x=1+2&sp=%20&flag&&k%3D=v%3d&bad=%zz");
    let expected: Vec<(String, String)> = [
        ("tag", "a"),
        ("tag", "b"),
        ("x", "1 2"),
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
    assert_eq!(n.query(), Some("x=%2F&y=1+1"));
    assert_eq!(n.path_and_query(), "/b?x=%2F&y=1+1");
    assert_eq!(n.query_pairs()[0], ("x".to_owned(), "/".to_owned()));
    assert_eq!(n.to_string(), "/b");
    let empty = NormalizedPath::new("/b", Some("")).unwrap();
    assert_eq!((empty.query(), empty.path_and_query()), (Some(""), "/b?"));
    let none = NormalizedPath::new("/b", None).unwrap();
    assert_eq!((none.query(), none.path_and_query()), (None, "/b"));
}

#[test]
fn a_double_percent_encoding_is_refused() {
    for p in [
        "/a%2541",
        "/a%252F",
        "/a%252fb",
        "/%252e%252e/admin",
        "/a%2525",
        "/a%25%34%31",
        "/a%25%34%31/b",
        "/x%2541/../y",
    ] {
        assert_eq!(strict(p), Err(PathError::DoubleEncoding), "{p}");
    }
    // `%25` not followed by two hex digits is a percent sign, encoded once.
    for (p, expected) in [
        ("/100%25", "/100%25"),
        ("/a%25zz", "/a%25zz"),
        ("/a%25/41", "/a%25/41"),
        ("/a%254", "/a%254"),
        ("/a%25.41", "/a%25.41"),
    ] {
        assert_eq!(norm(p), expected, "{p}");
    }
    assert_eq!(
        PathError::DoubleEncoding.to_string(),
        "request path is percent-encoded twice (`%25` followed by two hex digits); encode the path once"
    );
}

#[test]
fn a_semicolon_in_a_path_is_refused_unless_allowed() {
    for p in [
        "/public/..;/secret/x",
        "/a;b",
        "/a;jsessionid=1/b",
        "/;",
        "/a%3Bb",
        "/a%3bb",
        "/public/..%3B/secret",
    ] {
        assert_eq!(strict(p), Err(PathError::Semicolon), "{p}");
    }
    assert!(PathError::Semicolon
        .to_string()
        .contains("`--allow-path-semicolons`"));
    for (p, expected) in [
        ("/a;b=c/d", "/a;b=c/d"),
        ("/a%3Bv=1/d", "/a;v=1/d"),
        ("/a;x/../b", "/b"),
        ("/a/;x/..", "/a/"),
        ("/a/...;x", "/a/...;x"),
        ("/a/..b;x", "/a/..b;x"),
    ] {
        assert_eq!(norm_with(p, SEMICOLONS), expected, "{p}");
    }
}

#[test]
fn a_dot_segment_with_a_parameter_is_refused_when_semicolons_are_allowed() {
    // A servlet container reads these as `.` or `..`; other servers as names.
    for p in [
        "/public/..;/secret/x",
        "/public/..;jsessionid=1/secret",
        "/a/.;x/b",
        "/a/.;",
        "/a/%2e%2e;/b",
        "/a/..%3B/b",
        "/a/..%3bx=1",
    ] {
        assert_eq!(
            normalize_path(p, SEMICOLONS),
            Err(PathError::DotSegmentParameter),
            "{p}"
        );
    }
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
        Just("%25".to_owned()),
        Just("%3B".to_owned()),
        Just("%2b".to_owned()),
        Just("..;".to_owned()),
        "[a-fA-F0-9~_.;:@+ é{}%-]{1,4}",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| format!("/{}", v.concat()))
}

fn rules_strategy() -> impl Strategy<Value = PathRules> {
    any::<bool>().prop_map(|allow_semicolons| PathRules { allow_semicolons })
}

/// What every accepted path satisfies: canonical, with one spelling per character.
fn check_canonical(once: &str, rules: PathRules) -> Result<(), TestCaseError> {
    prop_assert!(once.starts_with('/'));
    prop_assert!(!once.contains("//"), "{once}");
    prop_assert!(!once.contains("/./"), "{once}");
    prop_assert!(!once.contains("/../"), "{once}");
    prop_assert!(!once.ends_with("/.") && !once.ends_with("/.."), "{once}");
    prop_assert!(rules.allow_semicolons || !once.contains(';'), "{once}");
    let b = once.as_bytes();
    for (i, _) in once.match_indices('%') {
        let hi = b.get(i + 1).copied().and_then(hex_val);
        let lo = b.get(i + 2).copied().and_then(hex_val);
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return Err(TestCaseError::fail(format!("bad escape in {once}")));
        };
        prop_assert!(
            !is_raw_pchar((hi << 4) | lo),
            "a pchar stays escaped in {once}"
        );
    }
    prop_assert!(!has_double_encoding(once), "{once}");
    prop_assert_eq!(normalize_path(once, rules), Ok(once.to_owned()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn normalization_is_idempotent_and_canonical(raw in path_strategy(), rules in rules_strategy()) {
        if let Ok(once) = normalize_path(&raw, rules) {
            check_canonical(&once, rules)?;
        }
    }

    #[test]
    fn arbitrary_strings_never_panic_and_stay_canonical(raw in "/\\PC{0,40}", rules in rules_strategy()) {
        if let Ok(once) = normalize_path(&raw, rules) {
            check_canonical(&once, rules)?;
        }
    }
}

#[test]
fn plus_in_a_query_is_a_space_for_the_policy() {
    let pairs = query_pairs("action=drop+all&a=drop%20all&b=drop%2Ball&drop+key=1&c=a++b");
    let expected: Vec<(String, String)> = [
        ("action", "drop all"),
        ("a", "drop all"),
        ("b", "drop+all"),
        ("drop key", "1"),
        ("c", "a  b"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(pairs, expected);
    assert_eq!(form_decode("caf%C3%A9+%E2"), "café \u{FFFD}");
    assert_eq!(form_decode("plain"), "plain");
}

fn forwarded(raw: &str) -> Option<String> {
    let mut out = String::from("/p");
    forwarded_query(raw, &mut out);
    out.strip_prefix("/p")
        .and_then(|q| q.strip_prefix('?'))
        .map(str::to_owned)
}

const PRESIGNED: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fvpc-lattice-svcs%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok%2Ben&X-Amz-Region-Set=us-east-1&X-Amz-Signature=0123abcd";

#[test]
fn presign_parameters_are_removed_from_the_forwarded_query() {
    assert_eq!(forwarded(PRESIGNED), None);
    assert_eq!(
        forwarded(&format!("x=1+2&{PRESIGNED}&y=%2F")).as_deref(),
        Some("x=1+2&y=%2F")
    );
    assert_eq!(forwarded(&format!("{PRESIGNED}&z")).as_deref(), Some("z"));
    assert_eq!(
        forwarded("a&&X-Amz-Signature=1&b=").as_deref(),
        Some("a&&b=")
    );
    let n = NormalizedPath::new("/orders/7", Some(&format!("x=1&{PRESIGNED}"))).unwrap();
    assert_eq!(n.path_and_query(), "/orders/7?x=1");
    assert_eq!(
        n.query_pairs(),
        vec![("x".to_owned(), "1".to_owned())],
        "the policy reads what the upstream gets"
    );
    let only = NormalizedPath::new("/orders/7", Some(PRESIGNED)).unwrap();
    assert_eq!((only.query(), only.path_and_query()), (None, "/orders/7"));
}

#[test]
fn presign_parameter_names_are_compared_decoded_and_ignoring_case() {
    for key in [
        "X-Amz-Signature",
        "x-amz-signature",
        "X-AMZ-CREDENTIAL",
        "X%2DAmz%2DSignature",
        "%58-Amz-Security-Token",
        "%78-amz-date",
        "X-Amz-SignedHeaders",
        "X-Amz-Region-Set",
        "X-Amz-Expires",
        "X-Amz-Algorithm",
    ] {
        assert!(is_presign_param(key), "{key}");
        assert_eq!(
            forwarded(&format!("{key}=v&k=1")).as_deref(),
            Some("k=1"),
            "{key}"
        );
    }
    for key in [
        "X-Amz-Content-Sha256",
        "X-Amz-Signature2",
        "X-Amz-Signatur",
        "X-Amz-Security-Token-Extra",
        "Signature",
        "x-amz-",
        "",
        "%",
        "%zz",
    ] {
        assert!(!is_presign_param(key), "{key}");
    }
}

#[test]
fn a_query_without_presign_parameters_is_forwarded_byte_for_byte() {
    for q in [
        "",
        "x=%2F&y=1+1&&z&",
        "&",
        "a=%zz&b=%C3%A9&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD",
        "X-Amz-Signaturex=1",
    ] {
        assert_eq!(forwarded(q).as_deref(), Some(q), "{q}");
    }
}

#[test]
fn forwarding_a_query_without_presign_parameters_does_not_reallocate() {
    let query = "a=1&b=%2F&c=drop+all";
    let mut out = String::with_capacity(2 + 1 + query.len());
    out.push_str("/p");
    let buffer = out.as_ptr();
    forwarded_query(query, &mut out);
    assert_eq!(out, "/p?a=1&b=%2F&c=drop+all");
    assert_eq!(out.as_ptr(), buffer);
}
