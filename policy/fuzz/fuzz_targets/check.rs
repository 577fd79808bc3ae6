//! Parse + validate + compile + evaluate arbitrary text: nothing may panic, and a policy
//! without errors must compile and decide.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trellis_policy::{check, decide_single, MapContext, PolicyKind, Principal, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [None, Some(PolicyKind::Auth), Some(PolicyKind::Identity)] {
        let checked = check(text, kind);
        for d in &checked.diagnostics {
            assert!(d.span.start <= d.span.end && d.span.end <= text.len());
            assert!(d.line >= 1 && d.column >= 1);
        }
        let Some(policy) = checked.compile() else {
            assert!(checked.has_errors());
            continue;
        };
        let mut ctx = MapContext::new();
        ctx.insert_one("aws:username", "ana");
        ctx.insert_one("aws:SourceIp", "10.0.0.1");
        ctx.insert_many("vpc-lattice-svcs:RequestQueryString/tag", ["a", "b"]);
        let resource = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-1/orders/7";
        let mut matches = Vec::new();
        for principal in [
            Principal::Anonymous,
            Principal::Caller {
                arn: "arn:aws:sts::111122223333:assumed-role/checkout/t",
                principal_arn: "arn:aws:iam::111122223333:role/checkout",
                account: "111122223333",
            },
        ] {
            let request = Request {
                principal,
                action: "vpc-lattice-svcs:Invoke",
                resource,
            };
            let _ = decide_single(&policy, &request, &ctx, &mut matches);
        }
    }
});
