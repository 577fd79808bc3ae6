use super::*;

fn err(text: &str) -> Diagnostic {
    parse(text).expect_err("must fail")
}

#[test]
fn every_node_and_key_has_its_span() {
    let text = r#"{"a": [1, "x", true], "b": null}"#;
    let v = parse(text).unwrap();
    let members = v.as_object().unwrap();
    assert_eq!(members[0].key, "a");
    assert_eq!(
        &text[members[0].key_span.start..members[0].key_span.end],
        "\"a\""
    );
    assert_eq!(
        &text[members[0].value.span.start..members[0].value.span.end],
        "[1, \"x\", true]"
    );
    let Kind::Array(items) = &members[0].value.kind else {
        panic!()
    };
    assert_eq!(items[0].kind, Kind::Number("1".into()));
    assert_eq!(&text[items[1].span.start..items[1].span.end], "\"x\"");
    assert_eq!(members[1].value.kind, Kind::Null);
}

#[test]
fn duplicate_keys_are_kept_in_order() {
    let v = parse(r#"{"Effect":"Deny","Effect":"Allow"}"#).unwrap();
    let members = v.as_object().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0].value.as_str(), Some("Deny"));
    assert_eq!(members[1].value.as_str(), Some("Allow"));
}

#[test]
fn escapes_and_surrogate_pairs_decode() {
    let v = parse(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#).unwrap();
    assert_eq!(v.as_str(), Some("a\"\\/\u{8}\u{c}\n\r\t\u{e9}\u{1F600}"));
}

#[test]
fn numbers_keep_their_literal_text() {
    let v = parse("[-0.50e+3, 12345678901234567890123]").unwrap();
    let Kind::Array(items) = v.kind else { panic!() };
    assert_eq!(items[0].kind, Kind::Number("-0.50e+3".into()));
    assert_eq!(
        items[1].kind,
        Kind::Number("12345678901234567890123".into())
    );
}

#[test]
fn trailing_comma_is_an_error_at_its_position() {
    let e = err("{\n  \"a\": 1,\n}");
    assert_eq!((e.line, e.column), (3, 1));
    assert!(e.message.contains("trailing comma"), "{}", e.message);
    let e = err("[1,]");
    assert_eq!((e.line, e.column), (1, 4));
}

#[test]
fn missing_comma_is_reported() {
    let e = err("{\"a\": 1 \"b\": 2}");
    assert_eq!((e.line, e.column), (1, 9));
    assert!(e.message.contains("comma missing"), "{}", e.message);
}

#[test]
fn unclosed_object_names_where_it_opened() {
    let e = err("\n {\"a\": 1");
    assert!(e.message.contains("opened at 2:2"), "{}", e.message);
    assert_eq!(e.line, 2);
}

#[test]
fn unclosed_string_names_where_it_opened() {
    let e = err("{\"a\": \"abc");
    assert!(e.message.contains("string opened at 1:7"), "{}", e.message);
}

#[test]
fn single_quotes_are_rejected_with_a_hint() {
    let e = err("{'a': 1}");
    assert_eq!((e.line, e.column), (1, 2));
    assert!(e.message.contains("double quotes"), "{}", e.message);
}

#[test]
fn leading_zero_and_bare_minus_are_rejected() {
    assert!(err("012").message.contains("leading zeros"));
    assert!(err("-").message.contains("digit must follow"));
    assert!(err("1.").message.contains("decimal point"));
    assert!(err("1e").message.contains("exponent"));
}

#[test]
fn control_characters_in_strings_are_rejected() {
    let e = err("\"a\tb\"");
    assert_eq!((e.line, e.column), (1, 3));
    assert!(e.message.contains("U+0009"), "{}", e.message);
}

#[test]
fn lone_surrogates_and_bad_escapes_are_rejected() {
    assert!(err(r#""\ud800""#).message.contains("surrogate"));
    assert!(err(r#""\udc00""#).message.contains("surrogate"));
    assert!(err(r#""\x""#).message.contains("invalid escape"));
    assert!(err(r#""\u12""#).message.contains("four hexadecimal"));
}

#[test]
fn trailing_content_and_empty_documents_are_rejected() {
    assert!(err("{} {}").message.contains("after the end"));
    assert!(err("  ").message.contains("empty"));
    assert!(err("nul").message.contains("lower-case"));
}

#[test]
fn deep_nesting_is_refused_without_overflowing() {
    let text = "[".repeat(10_000);
    assert!(err(&text).message.contains("nesting deeper"));
}

#[test]
fn a_leading_byte_order_mark_is_accepted_and_takes_no_column() {
    let text = "\u{FEFF}{\"a\": tru}";
    let e = err(text);
    assert_eq!((e.line, e.column), (1, 7), "{}", e.message);
    assert!(parse("\u{FEFF}{\"a\": 1}").is_ok());
}

#[test]
fn a_byte_order_mark_elsewhere_is_named() {
    let e = err("{\"a\": 1}\n\u{FEFF}");
    assert!(
        e.message.contains("byte-order mark") && e.message.contains("without BOM"),
        "{}",
        e.message
    );
}
