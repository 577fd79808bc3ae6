use crate::fixtures::{compile, ctx, INVOKE, SERVICE};
use crate::{
    decide, decide_single, CompiledPolicy, Decision, Effect, Layer, LayerPolicy, Layers,
    MapContext, Matched, PolicyKind, Principal, Reason, Request,
};

const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/checkout/task-1";
const ROLE: &str = "arn:aws:iam::111122223333:role/checkout";

fn caller() -> Principal<'static> {
    Principal::Caller {
        arn: SESSION,
        principal_arn: ROLE,
        account: "111122223333",
    }
}

fn policy(statements: &str) -> CompiledPolicy {
    compile(
        &format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#),
        None,
    )
}

fn allow_all() -> CompiledPolicy {
    policy(r#"{"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#)
}

fn deny_all() -> CompiledPolicy {
    policy(r#"{"Sid": "No", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}"#)
}

fn identity_allow() -> CompiledPolicy {
    compile(
        &format!(
            r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "{SERVICE}/*"}}}}"#
        ),
        Some(PolicyKind::Identity),
    )
}

fn run(layers: Layers<'_>, principal: Principal<'_>, path: &str) -> (Decision, Vec<Matched>) {
    let resource = format!("{SERVICE}{path}");
    let request = Request {
        principal,
        action: INVOKE,
        resource: &resource,
    };
    let mut matches = vec![Matched {
        layer: Layer::Policy,
        index: 99,
        sid: None,
        effect: Effect::Deny,
    }];
    let d = decide(&layers, &request, &MapContext::new(), &mut matches);
    (d, matches)
}

fn deny(reason: Reason, layer: Layer) -> Decision {
    Decision {
        effect: Effect::Deny,
        reason,
        layer: Some(layer),
    }
}

const ALLOWED: Decision = Decision {
    effect: Effect::Allow,
    reason: Reason::Allowed,
    layer: None,
};

#[test]
fn explicit_deny_in_service_policy_beats_network_allow() {
    let (n, s, i) = ([allow_all()], [deny_all()], [identity_allow()]);
    let layers = Layers {
        network: LayerPolicy::Policies(&n),
        service: LayerPolicy::Policies(&s),
        identity: LayerPolicy::Policies(&i),
    };
    let (d, matches) = run(layers, caller(), "/x");
    assert_eq!(d, deny(Reason::ExplicitDeny, Layer::Service));
    let layers_seen: Vec<Layer> = matches.iter().map(|m| m.layer).collect();
    assert_eq!(
        layers_seen,
        [Layer::Network, Layer::Service, Layer::Identity]
    );
}

#[test]
fn explicit_deny_anywhere_beats_an_earlier_implicit_deny() {
    let (n, s) = (
        [policy(
            r#"{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "*", "Resource": "*"}"#,
        )],
        [deny_all()],
    );
    let layers = Layers {
        network: LayerPolicy::Policies(&n),
        service: LayerPolicy::Policies(&s),
        identity: LayerPolicy::Off,
    };
    assert_eq!(
        run(layers, caller(), "/x").0,
        deny(Reason::ExplicitDeny, Layer::Service)
    );
}

#[test]
fn signed_caller_needs_an_identity_allow_even_in_the_same_account() {
    let s = [allow_all()];
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Policies(&s),
        identity: LayerPolicy::Policies(&[]),
    };
    assert_eq!(
        run(layers, caller(), "/x").0,
        deny(Reason::ImplicitDeny, Layer::Identity)
    );
    let i = [identity_allow()];
    let layers = Layers {
        identity: LayerPolicy::Policies(&i),
        ..layers
    };
    assert_eq!(run(layers, caller(), "/x").0, ALLOWED);
}

#[test]
fn anonymous_caller_is_decided_by_auth_policies_alone() {
    let s = [allow_all()];
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Policies(&s),
        identity: LayerPolicy::Policies(&[]),
    };
    assert_eq!(run(layers, Principal::Anonymous, "/x").0, ALLOWED);
}

#[test]
fn aws_iam_layer_without_policy_denies_implicitly() {
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Policies(&[]),
        identity: LayerPolicy::Off,
    };
    assert_eq!(
        run(layers, Principal::Anonymous, "/").0,
        deny(Reason::ImplicitDeny, Layer::Service)
    );
}

#[test]
fn first_layer_without_an_allow_is_reported() {
    let layers = Layers {
        network: LayerPolicy::Policies(&[]),
        service: LayerPolicy::Policies(&[]),
        identity: LayerPolicy::Policies(&[]),
    };
    assert_eq!(
        run(layers, caller(), "/").0,
        deny(Reason::ImplicitDeny, Layer::Network)
    );
}

#[test]
fn all_layers_off_allow() {
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Off,
        identity: LayerPolicy::Off,
    };
    let (d, matches) = run(layers, caller(), "/");
    assert_eq!(d, ALLOWED);
    assert!(matches.is_empty(), "matches must be cleared first");
}

#[test]
fn lattice_example_from_the_reference() {
    let network = [policy(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#,
    )];
    let service = [policy(&format!(
        r#"{{"Effect": "Allow", "Principal": {{"AWS": "{ROLE}"}}, "Action": "vpc-lattice-svcs:Invoke", "Resource": "{SERVICE}/orders/*"}}"#
    ))];
    let identity = [identity_allow()];
    let context = ctx(&[("aws:PrincipalOrgID", "o-a1b2c3d4e5")]);
    let layers = Layers {
        network: LayerPolicy::Policies(&network),
        service: LayerPolicy::Policies(&service),
        identity: LayerPolicy::Policies(&identity),
    };
    let decide_path = |layers: &Layers<'_>, path: &str| {
        let resource = format!("{SERVICE}{path}");
        let request = Request {
            principal: caller(),
            action: INVOKE,
            resource: &resource,
        };
        decide(layers, &request, &context, &mut Vec::new())
    };
    assert_eq!(decide_path(&layers, "/orders/7"), ALLOWED);
    assert_eq!(
        decide_path(&layers, "/admin"),
        deny(Reason::ImplicitDeny, Layer::Service)
    );
    let no_identity = Layers {
        identity: LayerPolicy::Policies(&[]),
        ..layers
    };
    assert_eq!(
        decide_path(&no_identity, "/orders/7"),
        deny(Reason::ImplicitDeny, Layer::Identity)
    );
}

#[test]
fn deny_beats_allow_whatever_the_statement_order() {
    let allow = r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#;
    let deny_stmt = r#"{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}"#;
    for p in [
        policy(&format!("{allow}, {deny_stmt}")),
        policy(&format!("{deny_stmt}, {allow}")),
    ] {
        let resource = format!("{SERVICE}/");
        let request = Request {
            principal: caller(),
            action: INVOKE,
            resource: &resource,
        };
        let mut matches = Vec::new();
        let d = decide_single(&p, &request, &MapContext::new(), &mut matches);
        assert_eq!(d, deny(Reason::ExplicitDeny, Layer::Policy));
        assert_eq!(matches.len(), 2, "every matching statement is collected");
        assert_eq!(matches[0].index, 0);
        assert_eq!(matches[1].index, 1);
    }
}

#[test]
fn only_non_matching_denies_is_an_implicit_deny() {
    let p = policy(
        r#"{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#,
    );
    let resource = format!("{SERVICE}/");
    let request = Request {
        principal: caller(),
        action: INVOKE,
        resource: &resource,
    };
    let d = decide_single(&p, &request, &MapContext::new(), &mut Vec::new());
    assert_eq!(
        d,
        Decision {
            effect: Effect::Deny,
            reason: Reason::ImplicitDeny,
            layer: None
        }
    );
}

#[test]
fn decide_single_reports_the_matching_statements_with_sids() {
    let p = allow_all();
    let resource = format!("{SERVICE}/");
    let request = Request {
        principal: Principal::Anonymous,
        action: INVOKE,
        resource: &resource,
    };
    let mut matches = Vec::new();
    let d = decide_single(&p, &request, &MapContext::new(), &mut matches);
    assert_eq!(
        d,
        Decision {
            effect: Effect::Allow,
            reason: Reason::Allowed,
            layer: Some(Layer::Policy)
        }
    );
    assert_eq!(matches[0].sid.as_deref(), Some("All"));
    assert_eq!(matches[0].layer, Layer::Policy);
}
