//! `decide` must not allocate in steady state: dhat, counting every heap block, proves it.

use trellis_policy::{
    check, decide, Context, Key, KeyKind, LayerPolicy, Layers, PolicyKind, Principal, Request,
    ValueList, Values,
};

/// dhat counts every heap block of the process; this test binary runs one test and starts no
/// thread while it measures.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations() -> u64 {
    dhat::HeapStats::get().total_blocks
}

const SERVICE: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

/// A context like the proxy's: values looked up straight from its own structures.
struct ProxyContext {
    tags: Vec<&'static str>,
}

impl Context for ProxyContext {
    fn get(&self, key: &Key<'_>) -> Option<Values<'_>> {
        match key.kind {
            KeyKind::PrincipalTag("team") => Some(Values::One("payments")),
            KeyKind::RequestQueryString("tag") => Some(Values::Many(&self.tags as &dyn ValueList)),
            KeyKind::RequestHeader("x-user") => Some(Values::One("ana")),
            _ => match key.name {
                "aws:sourceip" => Some(Values::One("10.1.2.3")),
                "aws:currenttime" => Some(Values::One("2026-11-23T12:00:00Z")),
                "aws:username" => Some(Values::One("ana")),
                "aws:principalarn" => Some(Values::One("arn:aws:iam::111122223333:role/checkout")),
                "vpc-lattice-svcs:port" => Some(Values::One("443")),
                _ => None,
            },
        }
    }
}

#[test]
fn decide_does_not_allocate_in_steady_state() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let service = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
        {{"Sid": "Checkout", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111122223333:role/checkout"}},
          "Action": "vpc-lattice-svcs:Invoke", "Resource": "{SERVICE}/orders/*",
          "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": ["payments", "risk"]}},
                         "IpAddress": {{"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
                         "ArnLike": {{"aws:PrincipalArn": "arn:aws:iam::*:role/check*"}},
                         "DateLessThan": {{"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
                         "NumericEquals": {{"vpc-lattice-svcs:Port": 443}},
                         "ForAllValues:StringLike": {{"vpc-lattice-svcs:RequestQueryString/tag": ["a*", "b"]}},
                         "StringLike": {{"vpc-lattice-svcs:RequestHeader/x-user": "${{aws:username}}*"}}}}}},
        {{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "{SERVICE}/users/${{aws:username}}/*"}},
        {{"Effect": "Deny", "Principal": "*", "Action": "*", "NotResource": ["{SERVICE}/orders/*", "{SERVICE}/users/*"],
          "Condition": {{"StringNotEquals": {{"aws:PrincipalTag/team": "${{aws:PrincipalTag/missing}}"}}}}}}
    ]}}"#
    );
    let identity = format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", "Action": "vpc-lattice-svcs:Invoke", "Resource": "{SERVICE}/*"}}}}"#
    );
    let service = [check(&service, None)
        .compile()
        .expect("service policy compiles")];
    let identity = [check(&identity, Some(PolicyKind::Identity))
        .compile()
        .expect("identity compiles")];
    let layers = Layers {
        network: LayerPolicy::Off,
        service: LayerPolicy::Policies(&service),
        identity: LayerPolicy::Policies(&identity),
    };
    let context = ProxyContext {
        tags: vec!["a1", "b"],
    };
    let resources = [
        format!("{SERVICE}/orders/7"),
        format!("{SERVICE}/users/ana/1"),
        format!("{SERVICE}/admin"),
    ];
    let principal = Principal::Caller {
        arn: "arn:aws:sts::111122223333:assumed-role/checkout/task-1",
        principal_arn: "arn:aws:iam::111122223333:role/checkout",
        account: "111122223333",
    };
    let mut matches = Vec::with_capacity(16);
    let mut outcomes = Vec::new();
    // Warm-up, then measure.
    for resource in &resources {
        let request = Request {
            principal,
            action: "vpc-lattice-svcs:Invoke",
            resource,
        };
        outcomes.push(decide(&layers, &request, &context, &mut matches));
    }
    let before = allocations();
    for _ in 0..100 {
        for resource in &resources {
            let request = Request {
                principal,
                action: "vpc-lattice-svcs:Invoke",
                resource,
            };
            let _ = decide(&layers, &request, &context, &mut matches);
            let anonymous = Request {
                principal: Principal::Anonymous,
                action: "vpc-lattice-svcs:Invoke",
                resource,
            };
            let _ = decide(&layers, &anonymous, &context, &mut matches);
        }
    }
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "decide allocated {} times",
        after - before
    );
    // The decisions are real ones, not trivially empty.
    use trellis_policy::{Layer, Reason};
    assert_eq!(outcomes[0].reason, Reason::Allowed, "{outcomes:?}");
    assert_eq!(outcomes[1].reason, Reason::Allowed);
    assert_eq!(
        (outcomes[2].reason, outcomes[2].layer),
        (Reason::ExplicitDeny, Some(Layer::Service))
    );
}
