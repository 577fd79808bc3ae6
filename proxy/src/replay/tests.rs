use super::*;

#[test]
fn an_explicit_deny_in_any_layer_wins_over_an_earlier_implicit_deny() {
    let results = [
        (Layer::Network, LayerResult::ImplicitDeny),
        (Layer::Service, LayerResult::Allowed),
        (Layer::Identity, LayerResult::ExplicitDeny),
    ];
    assert_eq!(
        combine(&results),
        (Reason::ExplicitDeny, Some(Layer::Identity))
    );
}

#[test]
fn a_layer_that_is_off_neither_allows_nor_denies() {
    let results = [
        (Layer::Network, LayerResult::Off),
        (Layer::Service, LayerResult::Allowed),
        (Layer::Identity, LayerResult::Off),
    ];
    assert_eq!(combine(&results), (Reason::Allowed, None));
    let results = [
        (Layer::Network, LayerResult::Off),
        (Layer::Service, LayerResult::ImplicitDeny),
        (Layer::Identity, LayerResult::Allowed),
    ];
    assert_eq!(
        combine(&results),
        (Reason::ImplicitDeny, Some(Layer::Service))
    );
}

#[test]
fn a_line_of_another_format_version_is_refused() {
    let err = RecordedRequest::parse(r#"{"v": 2, "anything": "new"}"#);
    assert!(matches!(
        err,
        Err(crate::decision_log::record::RecordError::Version(2))
    ));
    let err = RecordedRequest::parse(r#"{"v": 1}"#);
    assert!(matches!(
        err,
        Err(crate::decision_log::record::RecordError::Json(_))
    ));
}
