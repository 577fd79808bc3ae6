//! The callers Trellis knows (CONTRACT §4): their access keys, identities, organization data,
//! tags and identity policies, loaded from the principals file and validated as a whole.
//!
//! Everything a request needs about its caller is derived here once per load — the session
//! ARN, `aws:PrincipalArn`, the lower-cased tag keys — so the hot path only looks things up.

mod arn;
mod fields;
mod fingerprint;
mod load;
mod lookup;
mod secret;

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use trellis_policy::{CompiledPolicy, Diagnostic, GlobalKey, Key, KeyKind, Principal, Values};

use trellis_sigv4::{CredentialStore, StoredKey};

pub use self::arn::{IamIdentity, IdentityKind};
pub(crate) use self::lookup::{find_caller, KnownCaller};
pub use self::secret::SecretString;

/// `aws:PrincipalType` of a known caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    /// An IAM user.
    User,
    /// A role, acting through a session.
    AssumedRole,
}

impl PrincipalType {
    /// The value of `aws:PrincipalType`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "User",
            PrincipalType::AssumedRole => "AssumedRole",
        }
    }
}

/// A principal tag, with its key lower-cased once for case-insensitive condition lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The key as written in the file (used in identity headers).
    pub key: String,
    /// The key lower-cased (used to answer `aws:PrincipalTag/<key>`).
    pub key_lower: String,
    pub value: String,
}

/// Where a key's secret came from, for summaries (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    /// Written in the principals file.
    Inline,
    /// Read from this file.
    File(String),
    /// Read from this environment variable.
    Env(String),
}

/// What may be shown about a key.
#[derive(Debug, Clone)]
pub struct KeySummary {
    pub access_key_id: String,
    pub secret_origin: SecretOrigin,
    pub has_session_token: bool,
    pub expires_at: Option<SystemTime>,
}

/// One caller, with every value the request path derives from it.
#[derive(Debug)]
pub struct PrincipalRecord {
    /// The caller as AWS names it: the session ARN for a role with `session_name`, otherwise
    /// the user or role ARN. `Principal=` in identity headers and `User:` in deny messages.
    pub caller_arn: String,
    /// `aws:PrincipalArn`: the role ARN (with its path) for a session, the user ARN for a user.
    pub principal_arn: String,
    /// `aws:PrincipalAccount`.
    pub account: String,
    pub principal_type: PrincipalType,
    pub identity: IamIdentity,
    pub session_name: Option<String>,
    pub org_id: Option<String>,
    /// `aws:PrincipalOrgPaths` (multivalued).
    pub org_paths: Vec<String>,
    pub tags: Vec<Tag>,
    /// The identity-based policies, compiled.
    pub policies: Vec<CompiledPolicy>,
    pub keys: Vec<KeySummary>,
}

impl PrincipalRecord {
    /// The value of `aws:PrincipalTag/<key>`; `key_lower` must be lower-case.
    pub fn tag(&self, key_lower: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key_lower == key_lower)
            .map(|t| t.value.as_str())
    }

    /// The caller as the policy engine sees it.
    pub fn as_principal(&self) -> Principal<'_> {
        Principal::Caller {
            arn: &self.caller_arn,
            principal_arn: &self.principal_arn,
            account: &self.account,
        }
    }

    /// The condition keys this caller answers (iam.md §8): `aws:PrincipalArn`,
    /// `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:PrincipalOrgID`,
    /// `aws:PrincipalOrgPaths` (multivalued), `aws:PrincipalTag/<key>` and, for users,
    /// `aws:username`. `None` for every other key, and for one that does not apply (no
    /// organization, no such tag): absent, never empty.
    pub fn condition_value(&self, key: &Key<'_>) -> Option<Values<'_>> {
        match key.kind {
            KeyKind::Global(GlobalKey::PrincipalArn) => Some(Values::One(&self.principal_arn)),
            KeyKind::Global(GlobalKey::PrincipalAccount) => Some(Values::One(&self.account)),
            KeyKind::Global(GlobalKey::PrincipalType) => {
                Some(Values::One(self.principal_type.as_str()))
            }
            KeyKind::Global(GlobalKey::PrincipalOrgId) => self.org_id.as_deref().map(Values::One),
            KeyKind::Global(GlobalKey::PrincipalOrgPaths) if !self.org_paths.is_empty() => {
                Some(Values::Many(&self.org_paths))
            }
            KeyKind::Global(GlobalKey::Username) if self.principal_type == PrincipalType::User => {
                Some(Values::One(&self.identity.name))
            }
            KeyKind::PrincipalTag(tag) => self.tag(tag).map(Values::One),
            _ => None,
        }
    }
}

/// What the file says about an account's organization (`accounts`), for callers whose
/// identity comes from STS, which returns none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOrg {
    pub org_id: Option<String>,
    pub org_paths: Vec<String>,
}

/// Every caller and key of one principals file.
#[derive(Debug)]
pub struct PrincipalStore {
    /// `principals` in file order, then `roles` (records without keys) in file order.
    principals: Vec<PrincipalRecord>,
    keys: HashMap<String, StoredKey>,
    /// `roles`: (account, lower-cased role name) → handle in `principals`.
    roles: HashMap<(String, String), usize>,
    /// `accounts` by id.
    accounts: HashMap<String, AccountOrg>,
    /// The file's published version; `None` for the empty store, which has no file.
    content_sha256: Option<String>,
}

impl PrincipalStore {
    /// A store with no callers: every signed request is from an unknown key.
    pub fn empty() -> Self {
        PrincipalStore {
            principals: Vec::new(),
            keys: HashMap::new(),
            roles: HashMap::new(),
            accounts: HashMap::new(),
            content_sha256: None,
        }
    }

    /// Parses and validates the principals file `text` (read from `path`), collecting every
    /// problem with its position. Relative `secret_access_key_file` paths start at the file's
    /// directory; `env` answers `secret_access_key_env` names. `now` only decides warnings about
    /// keys that have already expired.
    pub fn load(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        now: SystemTime,
    ) -> Result<(PrincipalStore, Vec<Diagnostic>), Vec<Diagnostic>> {
        Self::load_with(path, text, env, true, now)
    }

    /// Like [`PrincipalStore::load`], but `secret_access_key_file` and `secret_access_key_env`
    /// are validated without being read: for checking a file where its secrets are not
    /// mounted (CI, a laptop), and for `policy eval`, which needs no secret. Keys with such a
    /// secret are left out of the credential store, so it never authenticates them.
    pub fn load_unresolved(
        path: &Path,
        text: &str,
        now: SystemTime,
    ) -> Result<(PrincipalStore, Vec<Diagnostic>), Vec<Diagnostic>> {
        Self::load_with(path, text, &|_| None, false, now)
    }

    fn load_with(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
        resolve: bool,
        now: SystemTime,
    ) -> Result<(PrincipalStore, Vec<Diagnostic>), Vec<Diagnostic>> {
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        let lookup = load::SecretLookup {
            base_dir,
            env,
            resolve,
        };
        let load::LoadedSpecs {
            principals: specs,
            roles: role_specs,
            accounts: account_specs,
            warnings,
            content_sha256,
        } = load::load(text, &lookup, now)?;
        let mut principals = Vec::with_capacity(specs.len());
        let mut keys = HashMap::new();
        for (handle, spec) in specs.into_iter().enumerate() {
            let principal_arn = spec.identity.arn();
            let (caller_arn, principal_type) = match (spec.identity.kind, &spec.session_name) {
                (IdentityKind::Role, Some(session)) => (
                    spec.identity.session_arn(session),
                    PrincipalType::AssumedRole,
                ),
                (IdentityKind::Role, None) => (principal_arn.clone(), PrincipalType::AssumedRole),
                (IdentityKind::User, _) => (principal_arn.clone(), PrincipalType::User),
            };
            let summaries = spec
                .keys
                .iter()
                .map(|k| KeySummary {
                    access_key_id: k.access_key_id.clone(),
                    secret_origin: match &k.secret_source {
                        load::SecretSource::Inline => SecretOrigin::Inline,
                        load::SecretSource::File(f) => SecretOrigin::File(f.clone()),
                        load::SecretSource::Env(e) => SecretOrigin::Env(e.clone()),
                    },
                    has_session_token: k.session_token.is_some(),
                    expires_at: k.expires_at,
                })
                .collect();
            for key in spec.keys {
                let Some(secret) = &key.secret else {
                    continue;
                };
                let stored = StoredKey::new(
                    key.access_key_id.clone(),
                    secret.expose().to_owned(),
                    key.session_token.as_ref().map(|t| t.expose().to_owned()),
                    key.expires_at,
                    handle,
                );
                keys.insert(key.access_key_id, stored);
            }
            principals.push(PrincipalRecord {
                caller_arn,
                principal_arn,
                account: spec.identity.account.clone(),
                principal_type,
                identity: spec.identity,
                session_name: spec.session_name,
                org_id: spec.org_id,
                org_paths: spec.org_paths,
                tags: spec
                    .tags
                    .into_iter()
                    .map(|(key, value)| Tag {
                        key_lower: key.to_ascii_lowercase(),
                        key,
                        value,
                    })
                    .collect(),
                policies: spec.policies,
                keys: summaries,
            });
        }
        let accounts: HashMap<String, AccountOrg> = account_specs
            .into_iter()
            .map(|a| {
                (
                    a.id,
                    AccountOrg {
                        org_id: a.org_id,
                        org_paths: a.org_paths,
                    },
                )
            })
            .collect();
        let mut roles = HashMap::with_capacity(role_specs.len());
        for spec in role_specs {
            let org = accounts.get(&spec.identity.account);
            roles.insert(
                (
                    spec.identity.account.clone(),
                    spec.identity.name.to_ascii_lowercase(),
                ),
                principals.len(),
            );
            principals.push(PrincipalRecord {
                caller_arn: spec.identity.arn(),
                principal_arn: spec.identity.arn(),
                account: spec.identity.account.clone(),
                principal_type: PrincipalType::AssumedRole,
                identity: spec.identity,
                session_name: None,
                org_id: org.and_then(|o| o.org_id.clone()),
                org_paths: org.map(|o| o.org_paths.clone()).unwrap_or_default(),
                tags: spec
                    .tags
                    .into_iter()
                    .map(|(key, value)| Tag {
                        key_lower: key.to_ascii_lowercase(),
                        key,
                        value,
                    })
                    .collect(),
                policies: spec.policies,
                keys: Vec::new(),
            });
        }
        let store = PrincipalStore {
            principals,
            keys,
            roles,
            accounts,
            content_sha256: Some(content_sha256),
        };
        Ok((store, warnings))
    }

    /// Every principal, in file order; a key's `principal()` handle indexes this slice.
    pub fn principals(&self) -> &[PrincipalRecord] {
        &self.principals
    }

    /// The handle of the role `name` of `account` listed in `roles` (names compared without
    /// letter case, as IAM does).
    pub fn role(&self, account: &str, name: &str) -> Option<usize> {
        self.roles
            .get(&(account.to_owned(), name.to_ascii_lowercase()))
            .copied()
    }

    /// Number of entries of `roles`.
    pub fn role_count(&self) -> usize {
        self.roles.len()
    }

    /// What `accounts` says about `account`.
    pub fn account(&self, account: &str) -> Option<&AccountOrg> {
        self.accounts.get(account)
    }

    /// Every entry of `accounts`, by id.
    pub fn accounts(&self) -> impl Iterator<Item = (&str, &AccountOrg)> {
        self.accounts.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The principal a key belongs to.
    pub fn principal_of(&self, key: &StoredKey) -> Option<&PrincipalRecord> {
        self.principals.get(key.principal())
    }

    /// Hex SHA-256 of the file's content with every secret removed: the version `/policy`
    /// publishes, comparable across pods and never guessable from the secrets it leaves out.
    pub fn content_sha256(&self) -> Option<&str> {
        self.content_sha256.as_deref()
    }

    /// Number of access keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }
}

impl CredentialStore for PrincipalStore {
    fn key(&self, access_key_id: &str) -> Option<&StoredKey> {
        self.keys.get(access_key_id)
    }
}

#[cfg(test)]
mod tests;
