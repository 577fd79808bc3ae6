use super::{explain, explain_single, ElementKind, Failure, Position};
use crate::fixtures::{compile, ctx, INVOKE, SERVICE};
use crate::{
    decide, CompiledPolicy, Effect, Layer, LayerPolicy, Layers, MapContext, PolicyKind, Principal,
    Reason, Request,
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
        &format!("{{\"Version\": \"2012-10-17\", \"Statement\": [\n{statements}]}}"),
        None,
    )
}

fn orders() -> String {
    format!("{SERVICE}/orders")
}

fn request<'a>(principal: Principal<'a>, resource: &'a str) -> Request<'a> {
    Request {
        principal,
        action: INVOKE,
        resource,
    }
}

#[test]
fn a_principal_that_does_not_match_is_the_first_failure_and_names_the_caller() {
    let p = policy(
        r#"{"Sid": "Billing", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/billing"}, "Action": "*", "Resource": "*"}"#,
    );
    let resource = orders();
    let out = p.explain(&request(caller(), &resource), &MapContext::new());
    assert_eq!(out.len(), 1);
    assert!(out[0].matched.is_empty());
    assert_eq!(out[0].sid.as_deref(), Some("Billing"));
    assert_eq!(out[0].position, Position { line: 2, column: 1 });
    match &out[0].failed {
        Some(Failure::Element {
            kind,
            element,
            request,
        }) => {
            assert_eq!(*kind, ElementKind::Principal);
            assert_eq!(&*element.name, "Principal");
            assert_eq!(
                &*element.value,
                r#"{"AWS": "arn:aws:iam::111122223333:role/billing"}"#
            );
            assert_eq!(request, SESSION);
        }
        other => panic!("expected a principal failure, got {other:?}"),
    }
}

#[test]
fn a_not_resource_that_excludes_the_request_is_reported_with_its_element_name() {
    let p = policy(&format!(
        r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "NotResource": "{SERVICE}/orders"}}"#
    ));
    let resource = orders();
    let out = p.explain(
        &request(Principal::Anonymous, &resource),
        &MapContext::new(),
    );
    assert_eq!(
        out[0].matched,
        vec![ElementKind::Principal, ElementKind::Action]
    );
    match &out[0].failed {
        Some(Failure::Element {
            kind,
            element,
            request,
        }) => {
            assert_eq!(*kind, ElementKind::Resource);
            assert_eq!(&*element.name, "NotResource");
            assert_eq!(request, &resource);
        }
        other => panic!("expected a resource failure, got {other:?}"),
    }
}

#[test]
fn the_first_condition_that_does_not_hold_is_reported_with_the_request_values() {
    let p = policy(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"vpc-lattice-svcs:RequestMethod": "GET",
                                           "aws:PrincipalTag/team": ["payments", "billing"]}}}"#,
    );
    let resource = orders();
    let context = ctx(&[
        ("vpc-lattice-svcs:RequestMethod", "GET"),
        ("aws:PrincipalTag/team", "ops"),
    ]);
    let out = p.explain(&request(caller(), &resource), &context);
    assert_eq!(
        out[0].matched,
        vec![
            ElementKind::Principal,
            ElementKind::Action,
            ElementKind::Resource,
            ElementKind::Condition
        ]
    );
    match &out[0].failed {
        Some(Failure::Condition {
            index,
            operator,
            key,
            values,
            position,
            request,
        }) => {
            assert_eq!(*index, 1);
            assert_eq!(&**operator, "StringEquals");
            assert_eq!(&**key, "aws:PrincipalTag/team");
            let values: Vec<&str> = values.iter().map(|v| &**v).collect();
            assert_eq!(values, ["payments", "billing"]);
            assert_eq!(
                *position,
                Position {
                    line: 4,
                    column: 44
                }
            );
            assert_eq!(request.as_deref(), Some(&["ops".to_owned()][..]));
        }
        other => panic!("expected a condition failure, got {other:?}"),
    }
}

#[test]
fn a_condition_on_an_absent_key_reports_no_request_value() {
    let p = policy(
        r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}}}"#,
    );
    let resource = orders();
    let out = p.explain(&request(caller(), &resource), &MapContext::new());
    assert_eq!(out[0].matched.last(), Some(&ElementKind::Resource));
    match &out[0].failed {
        Some(Failure::Condition { request, .. }) => assert_eq!(request, &None),
        other => panic!("expected a condition failure, got {other:?}"),
    }
}

#[test]
fn a_matching_statement_has_no_failure_and_lists_every_element() {
    let p = policy(r#"{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}"#);
    let resource = orders();
    let e = explain_single(&p, &request(caller(), &resource), &MapContext::new());
    let s = &e.layers[0].policies[0].statements[0];
    assert!(s.is_match());
    assert_eq!(s.effect, Effect::Deny);
    assert_eq!(e.decision.reason, Reason::ExplicitDeny);
    assert_eq!(e.decision.layer, Some(Layer::Policy));
}

#[test]
fn explain_reports_the_first_layer_without_an_allow_as_decide_does() {
    let service =
        policy(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#);
    let identity = compile(
        r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "arn:aws:vpc-lattice:eu-west-1:*:service/*"}}"#,
        Some(PolicyKind::Identity),
    );
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Policies(std::slice::from_ref(&service)),
        identity: LayerPolicy::Policies(std::slice::from_ref(&identity)),
    };
    let resource = orders();
    let req = request(caller(), &resource);
    let context = MapContext::new();
    let e = explain(&layers, &req, &context);
    let mut matches = Vec::new();
    assert_eq!(e.decision, decide(&layers, &req, &context, &mut matches));
    assert_eq!(e.decision.layer, Some(Layer::Identity));
    let names: Vec<Layer> = e.layers.iter().map(|l| l.layer).collect();
    assert_eq!(names, [Layer::Service, Layer::Identity]);
}

#[test]
fn the_identity_layer_is_not_explained_for_an_anonymous_caller() {
    let service =
        policy(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#);
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Policies(std::slice::from_ref(&service)),
        identity: LayerPolicy::Policies(&[]),
    };
    let resource = orders();
    let e = explain(
        &layers,
        &request(Principal::Anonymous, &resource),
        &MapContext::new(),
    );
    assert_eq!(e.layers.len(), 1);
    assert_eq!(e.decision.reason, Reason::Allowed);
}
