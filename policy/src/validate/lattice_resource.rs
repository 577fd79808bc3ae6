//! Whether a `Resource`/`NotResource` pattern can match what a VPC Lattice request is decided
//! on, and if not, what the user probably meant.
//!
//! The resource of a request is `arn:PARTITION:vpc-lattice:REGION:ACCOUNT:service/svc-ID/PATH`
//! (`Invoke`; without `/PATH` for `Connect`, the TCP service). A pattern such as `/admin/*`,
//! `arn:aws:s3:::bucket/*` or `arn:aws:vpc-latice:…` is accepted by IAM and then never
//! matches: in a `Deny` that is a silent hole. The check is exact: the pattern (with `*`, `?`
//! and policy variables, which may stand for any text) is intersected with that language by a
//! walk over the product of the two automata, so `*`, `*/orders` and
//! `arn:aws:vpc-lattice:*:*:service/*` are never flagged.

use crate::context::Context;
use crate::key::edit_distance;
use crate::pattern::Piece;
use crate::statement::ListRule;

/// Partitions in which VPC Lattice exists.
pub(super) const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov"];

/// Which request resources the statement's actions can reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Targets {
    /// `vpc-lattice-svcs:Invoke`: `service/svc-ID/PATH`.
    pub(super) invoke: bool,
    /// `vpc-lattice-svcs:Connect`: `service/svc-ID`.
    pub(super) connect: bool,
}

impl Targets {
    pub(super) const BOTH: Targets = Targets {
        invoke: true,
        connect: true,
    };

    /// What an `Action`/`NotAction` list reaches.
    pub(super) fn of_actions(rule: &ListRule) -> Targets {
        let empty: &dyn Context = &();
        Targets {
            invoke: rule.matches("vpc-lattice-svcs:invoke", true, empty),
            connect: rule.matches("vpc-lattice-svcs:connect", true, empty),
        }
    }
}

/// One position of the request-resource language.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    /// Exactly this character.
    Char(char),
    /// One character of the class.
    One(fn(char) -> bool),
    /// Any number of characters of the class (zero included).
    Many(fn(char) -> bool),
}

pub(super) fn region_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

pub(super) fn id_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

pub(super) fn any_char(_: char) -> bool {
    true
}

fn language(partition: &str, with_path: bool) -> Vec<Step> {
    let mut steps = Vec::with_capacity(64);
    let lit = |steps: &mut Vec<Step>, s: &str| steps.extend(s.chars().map(Step::Char));
    lit(&mut steps, "arn:");
    lit(&mut steps, partition);
    lit(&mut steps, ":vpc-lattice:");
    steps.extend([Step::One(region_char), Step::Many(region_char)]);
    lit(&mut steps, ":");
    let digit: fn(char) -> bool = |c| c.is_ascii_digit();
    steps.extend([Step::One(digit), Step::Many(digit)]);
    lit(&mut steps, ":service/svc-");
    steps.extend([Step::One(id_char), Step::Many(id_char)]);
    if with_path {
        lit(&mut steps, "/");
        steps.push(Step::Many(any_char));
    }
    steps
}

/// One position of the pattern.
#[derive(Debug, Clone, Copy)]
pub(super) enum Glob {
    Char(char),
    /// `?`: one character.
    One,
    /// `*` or a policy variable: any text.
    Any,
}

pub(super) fn glob(pieces: &[Piece]) -> Vec<Glob> {
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Lit(s) => out.extend(s.chars().map(Glob::Char)),
            Piece::One => out.push(Glob::One),
            Piece::Star | Piece::Var(_) => out.push(Glob::Any),
        }
    }
    out
}

/// Whether some string is matched by `pattern` and belongs to `lang`.
pub(super) fn intersects(pattern: &[Glob], lang: &[Step]) -> bool {
    let width = lang.len() + 1;
    let mut seen = vec![false; (pattern.len() + 1) * width];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((g, l)) = stack.pop() {
        let slot = g * width + l;
        if seen[slot] {
            continue;
        }
        seen[slot] = true;
        if g == pattern.len() && l == lang.len() {
            return true;
        }
        let mut push = |g: usize, l: usize| stack.push((g, l));
        // Moves that consume nothing.
        if let Some(Step::Many(_)) = lang.get(l) {
            push(g, l + 1);
        }
        if let Some(Glob::Any) = pattern.get(g) {
            push(g + 1, l);
        }
        // Moves that consume one character of both.
        let (Some(&p), Some(&s)) = (pattern.get(g), lang.get(l)) else {
            continue;
        };
        let next_l = match s {
            Step::Many(_) => l,
            _ => l + 1,
        };
        let next_g = match p {
            Glob::Any => g,
            _ => g + 1,
        };
        let fits = match (p, s) {
            (Glob::Char(c), Step::Char(d)) => c == d,
            (Glob::Char(c), Step::One(class) | Step::Many(class)) => class(c),
            // Every class is non-empty.
            (Glob::One | Glob::Any, _) => true,
        };
        if fits {
            push(next_g, next_l);
        }
    }
    false
}

/// Whether `pieces` can match the resource of some request the `targets` actions decide.
pub(super) fn can_match(pieces: &[Piece], targets: Targets) -> bool {
    let pattern = glob(pieces);
    PARTITIONS.iter().any(|partition| {
        (targets.invoke && intersects(&pattern, &language(partition, true)))
            || (targets.connect && intersects(&pattern, &language(partition, false)))
    })
}

/// The request resources of one service: `SERVICE_ARN/PATH` (`Invoke`) or `SERVICE_ARN`
/// (`Connect`).
fn service_language(service_arn: &str, with_path: bool) -> Vec<Step> {
    let mut steps: Vec<Step> = service_arn.chars().map(Step::Char).collect();
    if with_path {
        steps.push(Step::Char('/'));
        steps.push(Step::Many(any_char));
    }
    steps
}

/// Whether `pieces` can match the resource of some request to the service `service_arn`.
pub(super) fn can_match_service(pieces: &[Piece], targets: Targets, service_arn: &str) -> bool {
    let pattern = glob(pieces);
    (targets.invoke && intersects(&pattern, &service_language(service_arn, true)))
        || (targets.connect && intersects(&pattern, &service_language(service_arn, false)))
}

/// Which part of `written` (a pattern [`can_match`] accepted and [`can_match_service`]
/// refused) differs from `service_arn`, for the warning.
pub(super) fn service_difference(written: &str, service_arn: &str) -> String {
    const NAMES: [&str; 6] = ["", "partition", "service", "region", "account", "resource"];
    let (Some(w), Some(s)) = (
        crate::scalar::arn_parts(written),
        crate::scalar::arn_parts(service_arn),
    ) else {
        return format!("`{written}` names another service");
    };
    for i in [1, 4, 3] {
        if !w[i].contains(['*', '?']) && !w[i].contains("${") && w[i] != s[i] {
            return format!(
                "its {} is `{}`, this service's is `{}`",
                NAMES[i], w[i], s[i]
            );
        }
    }
    let id = w[5].split('/').nth(1).unwrap_or(w[5]);
    let ours = s[5].split('/').nth(1).unwrap_or(s[5]);
    format!("it names `{id}`, this service is `{ours}`")
}

/// Why `written` (which [`can_match`] refused) never matches, and what to write instead.
pub(super) fn advice(written: &str, targets: Targets) -> String {
    const SHAPE: &str = "arn:aws:vpc-lattice:REGION:ACCOUNT:service/svc-ID";
    let wild = |s: &str| s.contains(['*', '?']) || s.contains("${");
    if !written.starts_with("arn:") {
        if written.starts_with('/') {
            return format!("it is a path, not an ARN: write `*{written}` (that path on any service) or `{SHAPE}{written}`");
        }
        return format!(
            "it is not an ARN: write `{SHAPE}/PATH` (`/*` for every path), `*/PATH`, or `*`"
        );
    }
    let parts: Vec<&str> = written.splitn(6, ':').collect();
    let part = |i: usize| parts.get(i).copied().filter(|p| !wild(p));
    if let Some(service) = part(2) {
        if service != "vpc-lattice" {
            if edit_distance(service, "vpc-lattice") <= 3 {
                return format!(
                    "service `{service}` is misspelled: write `vpc-lattice` (`{SHAPE}/PATH`)"
                );
            }
            return format!("a `{service}` resource is not a VPC Lattice service, and Trellis only decides `vpc-lattice-svcs` requests: write `{SHAPE}/PATH`, or remove the entry");
        }
    }
    if let Some(partition) = part(1) {
        if !PARTITIONS.contains(&partition) {
            return format!(
                "partition `{partition}` does not exist: write `aws`, `aws-cn` or `aws-us-gov`"
            );
        }
    }
    if let Some(account) = part(4) {
        if !account.bytes().all(|b| b.is_ascii_digit()) || account.is_empty() {
            return format!(
                "account `{account}` must be the service owner's 12-digit account id (or `*`)"
            );
        }
    }
    if let Some(region) = part(3) {
        if region.is_empty() || !region.chars().all(region_char) {
            return format!("region `{region}` must be a region such as `us-west-2` (or `*`)");
        }
    }
    if let Some(&resource) = parts.get(5) {
        if resource.starts_with("servicenetwork/") {
            return format!("a request's resource is always the service, never the service network: write `{SHAPE}/*` (or `*`) and scope to the network with the condition key `vpc-lattice-svcs:ServiceNetworkArn`");
        }
        if let Some(id) = resource.strip_prefix("service/svc-") {
            if targets.invoke && !targets.connect && !id.contains('/') && !wild(id) {
                return format!("without a path it matches no HTTP request (`Invoke` decides `service/svc-ID/PATH`): write `{written}/*` for every path");
            }
            return "a service id is `svc-` and lower-case letters and digits".to_owned();
        }
        if !wild(resource) {
            return format!("resource `{resource}` is not a service: write `service/svc-ID/PATH`");
        }
    }
    format!("write `{SHAPE}/PATH` (`/*` for every path) or `*`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::parse_template;

    fn matches(pattern: &str, targets: Targets) -> bool {
        can_match(&parse_template(pattern, true, true).unwrap(), targets)
    }

    const INVOKE: Targets = Targets {
        invoke: true,
        connect: false,
    };

    #[test]
    fn resources_that_can_match_a_lattice_service_are_recognized() {
        for ok in [
            "*",
            "*/*",
            "*/orders",
            "arn:aws:vpc-lattice:*:*:service/*",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/*",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/orders/7",
            "arn:aws-cn:vpc-lattice:cn-north-1:111122223333:service/svc-0123456789abcdef0/",
            "arn:aws-us-gov:vpc-lattice:*",
            "arn:*:vpc-lattice:*:111122223333:service/svc-?????????????????/a:b",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/users/${aws:username}/*",
            "arn:aws:*",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0*",
        ] {
            assert!(matches(ok, INVOKE), "{ok}");
        }
    }

    #[test]
    fn resources_that_never_match_a_lattice_service_are_found() {
        for never in [
            "/admin/*",
            "admin",
            "",
            "arn:aws:s3:::bucket/*",
            "arn:aws:vpc-latice:us-west-2:111122223333:service/svc-0123456789abcdef0/*",
            "arn:aws:vpc-lattice:us-west-2:111122223333:servicenetwork/sn-0123456789abcdef0",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/orders/*",
            "arn:aws:vpc-lattice:US-WEST-2:111122223333:service/svc-0123456789abcdef0/*",
            "arn:aws-eu:vpc-lattice:*:*:service/*",
            "arn:aws:s3:*",
        ] {
            assert!(!matches(never, INVOKE), "{never}");
        }
    }

    #[test]
    fn a_service_arn_without_a_path_matches_only_connect() {
        let svc = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";
        assert!(!matches(svc, INVOKE));
        assert!(matches(svc, Targets::BOTH));
        assert!(advice(svc, INVOKE).contains(&format!("`{svc}/*`")));
    }

    #[test]
    fn advice_names_the_mistake_and_the_fix() {
        assert!(advice("/admin/*", INVOKE).contains("`*/admin/*`"));
        assert!(
            advice("arn:aws:vpc-latice:us-west-2:1:service/svc-1/*", INVOKE)
                .contains("write `vpc-lattice`")
        );
        assert!(advice("arn:aws:s3:::bucket/*", INVOKE).contains("`s3` resource"));
        assert!(advice(
            "arn:aws:vpc-lattice:us-west-2:1:servicenetwork/sn-1",
            INVOKE
        )
        .contains("vpc-lattice-svcs:ServiceNetworkArn"));
        assert!(advice("arn:aws-eu:vpc-lattice:*:*:service/*", INVOKE).contains("`aws-eu`"));
    }

    const SVC: &str = "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0";

    fn matches_service(pattern: &str, targets: Targets) -> bool {
        can_match_service(&parse_template(pattern, true, true).unwrap(), targets, SVC)
    }

    #[test]
    fn resources_of_this_service_are_recognized() {
        for ok in [
            "*",
            "*/orders/*",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/*",
            "arn:aws:vpc-lattice:*:111122223333:service/*",
            "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0123456789abcdef0/users/${aws:username}",
            "arn:*:vpc-lattice:us-west-?:*:service/svc-0123456789abcdef0/a",
        ] {
            assert!(matches_service(ok, INVOKE), "{ok}");
        }
    }

    #[test]
    fn resources_of_another_service_account_or_region_are_found() {
        for (never, difference) in [
            (
                "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0/*",
                "region is `us-east-1`",
            ),
            (
                "arn:aws:vpc-lattice:us-west-2:444455556666:service/svc-0123456789abcdef0/*",
                "account is `444455556666`",
            ),
            (
                "arn:aws:vpc-lattice:us-west-2:111122223333:service/svc-0fffffffffffffff0/*",
                "it names `svc-0fffffffffffffff0`",
            ),
            (
                "arn:aws-cn:vpc-lattice:*:*:service/*",
                "partition is `aws-cn`",
            ),
        ] {
            assert!(matches(never, INVOKE), "{never} is a Lattice resource");
            assert!(!matches_service(never, INVOKE), "{never}");
            let said = service_difference(never, SVC);
            assert!(said.contains(difference), "{never}: {said}");
        }
        assert!(!matches_service(SVC, INVOKE));
        assert!(matches_service(SVC, Targets::BOTH));
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("vpc-latice", "vpc-lattice"), 1);
        assert_eq!(edit_distance("aws:PrincpalOrgID", "aws:PrincipalOrgID"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
