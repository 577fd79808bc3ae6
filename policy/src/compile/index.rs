//! The statement index.
//!
//! Three levels, each exact about what it skips:
//! 1. **Action.** Lattice asks only `vpc-lattice-svcs:Invoke` or `:Connect`; each has its own
//!    index holding just the statements whose `Action`/`NotAction` matches it. Any other action
//!    scans every statement (a cold path: the proxy never asks it).
//! 2. **Principal.** Statements naming principals are filed under each entry's key (ARN,
//!    account id, or `arn:…:sts::ACCT:assumed-role/NAME` for a role's sessions); a caller looks
//!    up its own ARN, `aws:PrincipalArn`, account and session prefix — at most four hash
//!    lookups. `"*"`, `NotPrincipal` and identity statements go to a wildcard bucket.
//! 3. **Resource.** Within a bucket large enough to be worth it, a statement whose resource
//!    patterns all start with a literal containing `/` is filed under each literal cut after its
//!    last `/`; a request looks up each `/`-terminated prefix of its resource (only the lengths
//!    that occur). Others stay in a flat list.
//!
//! The index only prunes: every candidate is still tested in full, so it cannot change a result.

use crate::context::Context;
use crate::hash::FxHashMap;
use crate::principal::{Entry, PrincipalRule};
use crate::request::{session_role_prefix, Principal, Request};
use crate::statement::Statement;

/// What the index already established about a candidate, so evaluation can skip those tests.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hint {
    /// Filed in more than one place: the candidate may come up twice.
    pub(super) repeated: bool,
    /// Found under the caller's own key: its `Principal` names the caller.
    pub(super) principal_known: bool,
    /// Found in the index of the request's action: its `Action`/`NotAction` matches.
    pub(super) action_known: bool,
}

/// Buckets smaller than this are scanned rather than resource-indexed.
const RESOURCE_INDEX_MIN: usize = 8;

#[derive(Debug)]
pub(super) struct Index {
    invoke: ActionIndex,
    connect: ActionIndex,
    all: Vec<u32>,
}

#[derive(Debug, Default)]
struct ActionIndex {
    wildcard: Bucket,
    /// Keyed by account id, user/session/federated ARN or role ARN.
    by_principal: FxHashMap<Box<str>, Bucket>,
    /// Role statements keyed by `arn:…:sts::ACCT:assumed-role/NAME`, a separate map so that a
    /// caller ARN can never hit a session key by accident.
    by_session: FxHashMap<Box<str>, Bucket>,
    /// Statements filed in more than one place: a candidate may come up twice.
    repeated: Vec<bool>,
}

#[derive(Debug, Default)]
struct Bucket {
    flat: Vec<u32>,
    by_prefix: FxHashMap<Box<str>, Vec<u32>>,
    /// Bit `n` set: some key is `n` bytes long (keys of 255 bytes or more share bit 255).
    lengths: [u64; 4],
}

impl Index {
    pub(super) fn build(statements: &[Statement]) -> Index {
        let empty: &dyn Context = &();
        let for_action = |action: &str| {
            let ids = statements
                .iter()
                .enumerate()
                .filter(|(_, s)| s.action.matches(action, true, empty))
                .map(|(i, _)| i);
            ActionIndex::build(statements, ids)
        };
        Index {
            invoke: for_action("vpc-lattice-svcs:invoke"),
            connect: for_action("vpc-lattice-svcs:connect"),
            all: (0..statements.len()).map(to_u32).collect(),
        }
    }

    /// Calls `visit(statement, hint)` for every statement that might match.
    #[inline]
    pub(super) fn candidates(&self, request: &Request<'_>, visit: &mut dyn FnMut(u32, Hint)) {
        let action = request.action;
        let index = if action.eq_ignore_ascii_case("vpc-lattice-svcs:Invoke") {
            &self.invoke
        } else if action.eq_ignore_ascii_case("vpc-lattice-svcs:Connect") {
            &self.connect
        } else {
            let hint = Hint {
                repeated: false,
                principal_known: false,
                action_known: false,
            };
            for &i in &self.all {
                visit(i, hint);
            }
            return;
        };
        index.candidates(request, visit);
    }
}

fn to_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl ActionIndex {
    fn build(statements: &[Statement], ids: impl Iterator<Item = usize>) -> ActionIndex {
        let mut wildcard = Vec::new();
        let mut by_principal: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        let mut by_session: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        let mut places = vec![0u32; statements.len()];
        for i in ids {
            let id = to_u32(i);
            let mut keys: Vec<&str> = Vec::new();
            let mut session_keys: Vec<&str> = Vec::new();
            let any = match &statements[i].principal {
                PrincipalRule::Implied | PrincipalRule::NotPrincipal(_) => true,
                PrincipalRule::Principal(set) => {
                    for entry in &set.entries {
                        match entry {
                            Entry::Account(k) | Entry::Arn(k) => keys.push(k),
                            Entry::Role {
                                arn,
                                session_prefix,
                            } => {
                                keys.push(arn);
                                session_keys.push(session_prefix);
                            }
                            Entry::Foreign => {}
                        }
                    }
                    set.any
                }
            };
            if any {
                wildcard.push(id);
                places[i] += 1;
                continue;
            }
            for (keys, map) in [(keys, &mut by_principal), (session_keys, &mut by_session)] {
                let mut keys = keys;
                keys.sort_unstable();
                keys.dedup();
                for key in keys {
                    map.entry(key).or_default().push(id);
                    places[i] += 1;
                }
            }
        }
        let mut repeated: Vec<bool> = places.iter().map(|&n| n > 1).collect();
        let wildcard = Bucket::build(statements, wildcard, &mut repeated);
        let mut buckets = |map: FxHashMap<&str, Vec<u32>>| -> FxHashMap<Box<str>, Bucket> {
            map.into_iter()
                .map(|(k, ids)| (k.into(), Bucket::build(statements, ids, &mut repeated)))
                .collect()
        };
        let by_principal = buckets(by_principal);
        let by_session = buckets(by_session);
        ActionIndex {
            wildcard,
            by_principal,
            by_session,
            repeated,
        }
    }

    #[inline]
    fn candidates(&self, request: &Request<'_>, visit: &mut dyn FnMut(u32, Hint)) {
        let resource = request.resource;
        let repeated = &self.repeated;
        let hint = |i: u32, principal_known: bool| Hint {
            repeated: repeated.get(i as usize).copied().unwrap_or(true),
            principal_known,
            action_known: true,
        };
        self.wildcard
            .candidates(resource, &mut |i| visit(i, hint(i, false)));
        if let Principal::Caller {
            arn,
            principal_arn,
            account,
        } = request.principal
        {
            // Every bucket found here names the caller (the key is what matching compares),
            // so its statements' principal test is already passed.
            let mut lookup = |map: &FxHashMap<Box<str>, Bucket>, key: &str| {
                if let Some(bucket) = map.get(key) {
                    bucket.candidates(resource, &mut |i| visit(i, hint(i, true)));
                }
            };
            if !self.by_principal.is_empty() {
                lookup(&self.by_principal, arn);
                if principal_arn != arn {
                    lookup(&self.by_principal, principal_arn);
                }
                if account != arn && account != principal_arn {
                    lookup(&self.by_principal, account);
                }
            }
            if !self.by_session.is_empty() {
                if let Some(prefix) = session_role_prefix(arn) {
                    lookup(&self.by_session, prefix);
                }
            }
        }
    }
}

impl Bucket {
    fn build(statements: &[Statement], ids: Vec<u32>, repeated: &mut [bool]) -> Bucket {
        let mut bucket = Bucket::default();
        if ids.len() < RESOURCE_INDEX_MIN {
            bucket.flat = ids;
            return bucket;
        }
        let mut by_prefix: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        for id in ids {
            let Some(statement) = statements.get(id as usize) else {
                continue;
            };
            match resource_keys(statement) {
                Some(mut keys) => {
                    keys.sort_unstable();
                    keys.dedup();
                    if keys.len() > 1 {
                        if let Some(r) = repeated.get_mut(id as usize) {
                            *r = true;
                        }
                    }
                    for key in keys {
                        let n = key.len().min(255);
                        bucket.lengths[n / 64] |= 1 << (n % 64);
                        by_prefix.entry(key).or_default().push(id);
                    }
                }
                None => bucket.flat.push(id),
            }
        }
        bucket.by_prefix = by_prefix
            .into_iter()
            .map(|(k, ids)| (k.into(), ids))
            .collect();
        bucket
    }

    #[inline]
    fn candidates(&self, resource: &str, emit: &mut dyn FnMut(u32)) {
        for &i in &self.flat {
            emit(i);
        }
        if self.by_prefix.is_empty() {
            return;
        }
        for (at, b) in resource.bytes().enumerate() {
            if b != b'/' {
                continue;
            }
            let n = (at + 1).min(255);
            if self.lengths[n / 64] & (1 << (n % 64)) == 0 {
                continue;
            }
            if let Some(ids) = self.by_prefix.get(&resource[..=at]) {
                for &i in ids {
                    emit(i);
                }
            }
        }
    }
}

/// The index keys of a statement's `Resource` (each pattern's literal prefix cut after its
/// last `/`), or `None` if some pattern has no such prefix (or it is `NotResource`).
fn resource_keys(statement: &Statement) -> Option<Vec<&str>> {
    if statement.resource.negated {
        return None;
    }
    statement
        .resource
        .items
        .iter()
        .map(|m| {
            let prefix = m.literal_prefix();
            prefix.rfind('/').map(|at| &prefix[..=at])
        })
        .collect()
}
