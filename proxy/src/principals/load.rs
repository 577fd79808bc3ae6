//! Parsing and validating the principals file (CONTRACT §4) into plain records, with every
//! problem reported at its JSON position.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use trellis_policy::json::{self, Kind, Value};
use trellis_policy::{CompiledPolicy, Diagnostic, PolicyKind, Span};

use super::arn::{check_org_id, check_org_path, check_session_name, IamIdentity, IdentityKind};
use super::fields::{Diagnostics, Fields};
use super::fingerprint;
use super::secret::SecretString;

const TOP_FIELDS: &[&str] = &["principals", "roles", "accounts"];
/// A role whose callers prove who they are with STS identity tokens (CONTRACT §4b).
const ROLE_FIELDS: &[&str] = &["arn", "tags", "policies"];
/// What STS does not return about an account: its organization.
const ACCOUNT_FIELDS: &[&str] = &["id", "org_id", "org_paths"];
const PRINCIPAL_FIELDS: &[&str] = &[
    "arn",
    "session_name",
    "org_id",
    "org_paths",
    "tags",
    "keys",
    "policies",
];
const KEY_FIELDS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "secret_access_key_file",
    "secret_access_key_env",
    "session_token",
    "expires_at",
];

/// One principal as the file describes it, validated.
#[derive(Debug)]
pub(crate) struct PrincipalSpec {
    pub(crate) identity: IamIdentity,
    pub(crate) session_name: Option<String>,
    pub(crate) org_id: Option<String>,
    pub(crate) org_paths: Vec<String>,
    /// Tag keys as written, in file order.
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) keys: Vec<KeySpec>,
    pub(crate) policies: Vec<CompiledPolicy>,
}

/// One access key, its secret resolved (`None`: named by a file or variable not read, see
/// [`SecretLookup::resolve`]).
#[derive(Debug)]
pub(crate) struct KeySpec {
    pub(crate) access_key_id: String,
    pub(crate) secret: Option<SecretString>,
    /// Where the secret came from, for the summary of `principals check`.
    pub(crate) secret_source: SecretSource,
    pub(crate) session_token: Option<SecretString>,
    pub(crate) expires_at: Option<SystemTime>,
}

/// Where a secret was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretSource {
    Inline,
    File(String),
    Env(String),
}

/// How secrets named by the file are found: the directory relative file paths start from, and
/// the environment (a function, so tests never touch the process environment).
pub(crate) struct SecretLookup<'a> {
    pub(crate) base_dir: &'a Path,
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
    /// `false`: `secret_access_key_file`/`_env` are validated but not read (CI, laptops).
    pub(crate) resolve: bool,
}

impl std::fmt::Debug for SecretLookup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretLookup")
            .field("base_dir", &self.base_dir)
            .finish_non_exhaustive()
    }
}

/// One entry of `roles`: tags and identity policies of a role whose sessions sign no request
/// with a key we hold, but present STS identity tokens.
#[derive(Debug)]
pub(crate) struct RoleSpec {
    pub(crate) identity: IamIdentity,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) policies: Vec<CompiledPolicy>,
}

/// One entry of `accounts`.
#[derive(Debug)]
pub(crate) struct AccountSpec {
    pub(crate) id: String,
    pub(crate) org_id: Option<String>,
    pub(crate) org_paths: Vec<String>,
}

/// A whole principals file, validated.
#[derive(Debug)]
pub(crate) struct LoadedSpecs {
    pub(crate) principals: Vec<PrincipalSpec>,
    pub(crate) roles: Vec<RoleSpec>,
    pub(crate) accounts: Vec<AccountSpec>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// The version `/policy` publishes (see `fingerprint`).
    pub(crate) content_sha256: String,
}

/// Parses and validates a whole principals file. Errors stop the load; warnings come back
/// with the records.
pub(crate) fn load(
    text: &str,
    secrets: &SecretLookup<'_>,
    now: SystemTime,
) -> Result<LoadedSpecs, Vec<Diagnostic>> {
    let mut diags = Diagnostics::new(text);
    let root = match json::parse(text) {
        Ok(root) => root,
        Err(diagnostic) => return Err(vec![diagnostic]),
    };
    let mut principals = Vec::new();
    let mut roles = Vec::new();
    let mut accounts = Vec::new();
    if let Some(top) = Fields::read(&root, "the principals file", TOP_FIELDS, &mut diags) {
        if ["principals", "roles", "accounts"]
            .iter()
            .all(|s| top.get(s).is_none())
        {
            diags.error(
                root.span,
                "the principals file has no `principals` array: add `\"principals\": [...]` (or `roles`/`accounts` for callers with STS identity tokens)",
            );
        }
        let mut role_names: HashMap<(String, String), Span> = HashMap::new();
        for value in top.array("roles", &mut diags) {
            if let Some(spec) = role(value, text, &mut role_names, &mut diags) {
                roles.push(spec);
            }
        }
        let mut account_ids: HashMap<String, Span> = HashMap::new();
        for value in top.array("accounts", &mut diags) {
            if let Some(spec) = account(value, &mut account_ids, &mut diags) {
                accounts.push(spec);
            }
        }
        let mut key_ids: HashMap<String, Span> = HashMap::new();
        for value in top.array("principals", &mut diags) {
            if let Some(spec) = principal(value, text, secrets, now, &mut key_ids, &mut diags) {
                principals.push(spec);
            }
        }
    }
    let failed = diags.has_errors();
    let mut list = diags.list;
    list.sort_by_key(|d| d.span.start);
    if failed {
        Err(list)
    } else {
        Ok(LoadedSpecs {
            principals,
            roles,
            accounts,
            warnings: list,
            content_sha256: fingerprint::content_sha256(&root),
        })
    }
}

fn principal(
    value: &Value,
    text: &str,
    secrets: &SecretLookup<'_>,
    now: SystemTime,
    key_ids: &mut HashMap<String, Span>,
    diags: &mut Diagnostics<'_>,
) -> Option<PrincipalSpec> {
    let fields = Fields::read(value, "a principal", PRINCIPAL_FIELDS, diags)?;
    let errors_before = diags.list.len();
    let identity = fields
        .required_string("arn", "a principal", value.span, diags)
        .and_then(|(arn, span)| match IamIdentity::parse(arn) {
            Ok(identity) => Some(identity),
            Err(message) => {
                diags.error(span, message);
                None
            }
        });
    let session_name = fields.string("session_name", diags).map(|(name, span)| {
        if let Err(message) = check_session_name(name) {
            diags.error(span, message);
        }
        if identity
            .as_ref()
            .is_some_and(|i| i.kind == IdentityKind::User)
        {
            diags.error(
                span,
                "`session_name` applies to roles only: remove it or name a role in `arn`",
            );
        }
        name.to_owned()
    });
    if let (Some(identity), None) = (&identity, &session_name) {
        if identity.kind == IdentityKind::Role {
            diags.warning(
                value.span,
                format!(
                    "role `{}` has no `session_name`: its callers appear as the role itself; set `session_name` so they appear as `{}` as in AWS",
                    identity.arn(),
                    identity.session_arn("SESSION")
                ),
            );
        }
    }
    let (org_id, org_paths) = organization(&fields, diags);
    let tags = tags(&fields, diags);
    let key_items = fields.array("keys", diags);
    match fields.get("keys") {
        None => diags.error(
            value.span,
            "a principal has no `keys`: add at least one access key it signs with",
        ),
        Some(v) if key_items.is_empty() && matches!(v.kind, Kind::Array(_)) => {
            diags.error(v.span, "`keys` is empty: add at least one access key")
        }
        Some(_) => {}
    }
    let keys: Vec<KeySpec> = key_items
        .iter()
        .filter_map(|item| key(item, secrets, now, key_ids, diags))
        .collect();
    let policies = fields
        .array("policies", diags)
        .iter()
        .filter_map(|item| {
            let checked = trellis_policy::check_value(item, text, Some(PolicyKind::Identity));
            diags.list.extend(checked.diagnostics.iter().cloned());
            checked.compile()
        })
        .collect();
    let failed = diags.list[errors_before..]
        .iter()
        .any(|d| d.severity == trellis_policy::Severity::Error);
    if failed {
        return None;
    }
    Some(PrincipalSpec {
        identity: identity?,
        session_name,
        org_id,
        org_paths,
        tags,
        keys,
        policies,
    })
}

/// `{"arn": "arn:aws:iam::ACCOUNT:role/[PATH/]NAME", "tags": {...}, "policies": [...]}`; a
/// role is listed once (IAM role names are unique per account, letter case ignored).
fn role(
    value: &Value,
    text: &str,
    seen: &mut HashMap<(String, String), Span>,
    diags: &mut Diagnostics<'_>,
) -> Option<RoleSpec> {
    let fields = Fields::read(value, "a role", ROLE_FIELDS, diags)?;
    let errors_before = diags.list.len();
    let identity = fields
        .required_string("arn", "a role", value.span, diags)
        .and_then(|(arn, span)| match IamIdentity::parse(arn) {
            Ok(identity) if identity.kind == IdentityKind::Role => {
                let key = (identity.account.clone(), identity.name.to_ascii_lowercase());
                if let Some(first) = seen.get(&key) {
                    let at = diags.position(*first);
                    diags.error(
                        span,
                        format!("role `{arn}` is already listed (at {at}): list each role once"),
                    );
                } else {
                    seen.insert(key, span);
                }
                Some(identity)
            }
            Ok(_) => {
                diags.error(
                    span,
                    format!("`{arn}` is a user: `roles` lists roles (`arn:aws:iam::ACCOUNT:role/NAME`); put users in `principals`"),
                );
                None
            }
            Err(message) => {
                diags.error(span, message);
                None
            }
        });
    let tags = tags(&fields, diags);
    let policies = policies(&fields, text, diags);
    let failed = diags.list[errors_before..]
        .iter()
        .any(|d| d.severity == trellis_policy::Severity::Error);
    if failed {
        return None;
    }
    Some(RoleSpec {
        identity: identity?,
        tags,
        policies,
    })
}

/// `{"id": "111122223333", "org_id": "o-…", "org_paths": [...]}`, each account once.
fn account(
    value: &Value,
    seen: &mut HashMap<String, Span>,
    diags: &mut Diagnostics<'_>,
) -> Option<AccountSpec> {
    let fields = Fields::read(value, "an account", ACCOUNT_FIELDS, diags)?;
    let errors_before = diags.list.len();
    let id = fields
        .required_string("id", "an account", value.span, diags)
        .map(|(id, span)| {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                diags.error(
                    span,
                    format!("account id `{id}` is invalid: an account id is 12 digits"),
                );
            } else if let Some(first) = seen.get(id) {
                let at = diags.position(*first);
                diags.error(
                    span,
                    format!("account `{id}` is already listed (at {at}): list each account once"),
                );
            } else {
                seen.insert(id.to_owned(), span);
            }
            id.to_owned()
        });
    let (org_id, org_paths) = organization(&fields, diags);
    let failed = diags.list[errors_before..]
        .iter()
        .any(|d| d.severity == trellis_policy::Severity::Error);
    if failed {
        return None;
    }
    Some(AccountSpec {
        id: id?,
        org_id,
        org_paths,
    })
}

/// `org_id` and `org_paths`, checked against each other.
fn organization(fields: &Fields<'_>, diags: &mut Diagnostics<'_>) -> (Option<String>, Vec<String>) {
    let org_id = fields.string("org_id", diags).map(|(id, span)| {
        if let Err(message) = check_org_id(id) {
            diags.error(span, message);
        }
        id.to_owned()
    });
    let org_paths = fields
        .array("org_paths", diags)
        .iter()
        .filter_map(|item| match &item.kind {
            Kind::String(path) => {
                if let Err(message) = check_org_path(path, org_id.as_deref()) {
                    diags.error(item.span, message);
                }
                Some(path.clone())
            }
            _ => {
                diags.error(item.span, "each of `org_paths` must be a string");
                None
            }
        })
        .collect();
    (org_id, org_paths)
}

/// `policies`: identity-based policies, compiled.
fn policies(fields: &Fields<'_>, text: &str, diags: &mut Diagnostics<'_>) -> Vec<CompiledPolicy> {
    fields
        .array("policies", diags)
        .iter()
        .filter_map(|item| {
            let checked = trellis_policy::check_value(item, text, Some(PolicyKind::Identity));
            diags.list.extend(checked.diagnostics.iter().cloned());
            checked.compile()
        })
        .collect()
}

fn tags(fields: &Fields<'_>, diags: &mut Diagnostics<'_>) -> Vec<(String, String)> {
    let Some(value) = fields.get("tags") else {
        return Vec::new();
    };
    let Kind::Object(members) = &value.kind else {
        diags.error(
            value.span,
            "`tags` must be a JSON object of tag keys to string values",
        );
        return Vec::new();
    };
    let mut tags: Vec<(String, String)> = Vec::with_capacity(members.len());
    let mut spans: Vec<Span> = Vec::with_capacity(members.len());
    for member in members {
        let key = member.key.as_str();
        if key.is_empty() || key.chars().count() > 128 || key.starts_with("aws:") {
            diags.error(
                member.key_span,
                format!(
                    "tag key `{key}` is invalid: 1 to 128 characters, not starting with `aws:`"
                ),
            );
            continue;
        }
        if let Some(i) = tags.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)) {
            let first = diags.position(spans[i]);
            diags.error(
                member.key_span,
                format!("tag key `{key}` repeats `{}` (at {first}): tag keys are case-insensitive, keep one", tags[i].0),
            );
            continue;
        }
        match &member.value.kind {
            Kind::String(v) if v.chars().count() <= 256 => {
                tags.push((key.to_owned(), v.clone()));
                spans.push(member.key_span);
            }
            Kind::String(_) => diags.error(
                member.value.span,
                format!("the value of tag `{key}` is longer than 256 characters"),
            ),
            _ => diags.error(
                member.value.span,
                format!("the value of tag `{key}` must be a string"),
            ),
        }
    }
    tags
}

fn key(
    value: &Value,
    secrets: &SecretLookup<'_>,
    now: SystemTime,
    key_ids: &mut HashMap<String, Span>,
    diags: &mut Diagnostics<'_>,
) -> Option<KeySpec> {
    let fields = Fields::read(value, "a key", KEY_FIELDS, diags)?;
    let (id, id_span) = fields.required_string("access_key_id", "a key", value.span, diags)?;
    let id_ok =
        (3..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !id_ok {
        diags.error(
            id_span,
            format!("access key id `{id}` is invalid: 3 to 128 letters, digits or `_`"),
        );
    }
    if let Some(first) = key_ids.get(id) {
        let at = diags.position(*first);
        diags.error(
            id_span,
            format!("access key id `{id}` is already used (at {at}): every key id must be unique in the file"),
        );
    } else {
        key_ids.insert(id.to_owned(), id_span);
    }
    let (secret, secret_source) = secret(&fields, value.span, secrets, diags)?;
    let session_token = fields
        .string("session_token", diags)
        .and_then(|(token, span)| {
            if token.is_empty() {
                diags.error(
                    span,
                    "`session_token` is empty: remove it or give the token",
                );
                None
            } else {
                Some(SecretString::new(token.to_owned()))
            }
        });
    let expires_at = fields.string("expires_at", diags).and_then(|(text, span)| {
        match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            Ok(at) => {
                let at = SystemTime::from(at);
                if at <= now {
                    diags.warning(
                        span,
                        format!("key `{id}` expired at {text}: requests signed with it are refused with ExpiredTokenException"),
                    );
                }
                Some(at)
            }
            Err(_) => {
                diags.error(
                    span,
                    format!("`expires_at` `{text}` is not an RFC 3339 time: write e.g. `2026-12-31T23:59:59Z`"),
                );
                None
            }
        }
    });
    Some(KeySpec {
        access_key_id: id.to_owned(),
        secret,
        secret_source,
        session_token,
        expires_at,
    })
}

/// Exactly one of the three secret fields, resolved unless `secrets.resolve` is off (then a
/// file or variable secret is `None`). Never puts the secret in a message.
fn secret(
    fields: &Fields<'_>,
    at: Span,
    secrets: &SecretLookup<'_>,
    diags: &mut Diagnostics<'_>,
) -> Option<(Option<SecretString>, SecretSource)> {
    let given: Vec<&str> = [
        "secret_access_key",
        "secret_access_key_file",
        "secret_access_key_env",
    ]
    .into_iter()
    .filter(|f| fields.get(f).is_some())
    .collect();
    match given.as_slice() {
        [] => {
            diags.error(
                at,
                "a key has no secret: add one of `secret_access_key`, `secret_access_key_file` or `secret_access_key_env`",
            );
            return None;
        }
        [_] => {}
        several => {
            diags.error(
                at,
                format!(
                    "a key has several secrets ({}): keep exactly one",
                    several
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return None;
        }
    }
    let (secret, source, span) = if let Some((inline, span)) =
        fields.string("secret_access_key", diags)
    {
        (inline.to_owned(), SecretSource::Inline, span)
    } else if let Some((file, span)) = fields.string("secret_access_key_file", diags) {
        let path = secrets.base_dir.join(file);
        if file.is_empty() {
            diags.error(
                span,
                "`secret_access_key_file` is empty: give the path of the file holding the secret",
            );
            return None;
        }
        if !secrets.resolve {
            return Some((None, SecretSource::File(path.display().to_string())));
        }
        match std::fs::read_to_string(&path) {
            Ok(content) => (
                content.trim_end_matches(['\r', '\n']).to_owned(),
                SecretSource::File(path.display().to_string()),
                span,
            ),
            Err(e) => {
                diags.error(
                    span,
                    format!("cannot read the secret file `{}`: {e}; check the mount and the path (relative paths start at the principals file's directory)", path.display()),
                );
                return None;
            }
        }
    } else if let Some((name, span)) = fields.string("secret_access_key_env", diags) {
        if name.is_empty() {
            diags.error(span, "`secret_access_key_env` is empty: give the name of the environment variable holding the secret");
            return None;
        }
        if !secrets.resolve {
            return Some((None, SecretSource::Env(name.to_owned())));
        }
        match (secrets.env)(name) {
            Some(value) => (value, SecretSource::Env(name.to_owned()), span),
            None => {
                diags.error(
                    span,
                    format!("environment variable `{name}` is not set: set it or use another secret source"),
                );
                return None;
            }
        }
    } else {
        return None;
    };
    if secret.is_empty() {
        diags.error(span, "the secret access key is empty");
        return None;
    }
    Some((Some(SecretString::new(secret)), source))
}
