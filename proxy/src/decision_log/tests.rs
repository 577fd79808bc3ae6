use super::*;

#[test]
fn a_header_value_is_cut_at_256_bytes_on_a_character_boundary() {
    let ascii = "a".repeat(300);
    assert_eq!(cut_value(&ascii).len(), 256);
    let wide = format!("{}é", "a".repeat(255));
    assert_eq!(cut_value(&wide), "a".repeat(255));
    assert_eq!(cut_value("short"), "short");
}

#[test]
fn a_layer_result_is_recovered_from_its_matched_statements() {
    let m = |layer, effect| Matched {
        layer,
        index: 0,
        sid: None,
        effect,
    };
    let matched = [
        m(Layer::Network, Effect::Allow),
        m(Layer::Service, Effect::Allow),
        m(Layer::Service, Effect::Deny),
    ];
    assert_eq!(
        layer_result(true, Layer::Network, &matched),
        LayerResult::Allowed
    );
    assert_eq!(
        layer_result(true, Layer::Service, &matched),
        LayerResult::ExplicitDeny
    );
    assert_eq!(
        layer_result(true, Layer::Identity, &matched),
        LayerResult::ImplicitDeny
    );
    assert_eq!(
        layer_result(false, Layer::Identity, &matched),
        LayerResult::Off
    );
}
