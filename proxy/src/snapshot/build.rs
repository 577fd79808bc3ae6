//! Reading, validating and compiling the configured files into a [`Snapshot`]. Blocking file
//! I/O: called at start-up and from the reload task, never from a request.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use trellis_policy::{CompiledPolicy, PolicyKind};

use super::labels::{content_label, statement_texts};
use super::report::{Report, Reporter};
use super::{AuthType, CallerView, IdentityKey, LevelPolicy, Snapshot, SnapshotConfig};
use crate::admin::LoadedFile;
use crate::caller_identity::{CallerIdentity, IdentityFields};
use crate::error::PolicyLayer;
use crate::logged_facts::CallerLog;
use crate::metrics::{Decision, Metrics};
use crate::principals::{PrincipalRecord, PrincipalStore};

/// One reason a load failed, as the line written to stderr (`FILE:LINE:COL: error: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

fn read(path: &Path, errors: &mut Vec<LoadError>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            errors.push(LoadError(format!(
                "{}: error: cannot read the file: {e}; check the path and its permissions",
                path.display()
            )));
            None
        }
    }
}

/// A statement's `statement` label: its Sid, else a hash of its text (stable when other
/// statements are added, removed or reordered, unlike its position), else — only if the text
/// could not be re-read, which a file that compiled never causes — its position.
pub(super) fn statement_label(index: usize, sid: Option<&str>, text: Option<&str>) -> String {
    match (sid, text) {
        (Some(sid), _) => sid.to_owned(),
        (None, Some(text)) => content_label(text),
        (None, None) => format!("#{index}"),
    }
}

/// Loads one auth policy with the canonical text of each statement; `None` when it cannot be
/// used (the errors are in `errors`).
pub(super) fn load_policy(
    path: &Path,
    errors: &mut Vec<LoadError>,
    files: &mut Vec<LoadedFile>,
    report: &Reporter,
) -> Option<(CompiledPolicy, Vec<String>)> {
    let text = read(path, errors)?;
    let checked = trellis_policy::check(&text, Some(PolicyKind::Auth));
    let name = path.display().to_string();
    for d in &checked.diagnostics {
        let line = format!("{name}:{d}");
        if d.is_error() {
            errors.push(LoadError(line));
        } else {
            report.report(Report::Warning(&line));
        }
    }
    let policy = checked.compile()?;
    files.push(LoadedFile::new(
        path.to_path_buf(),
        text.as_bytes(),
        policy.statement_count(),
        SystemTime::now(),
    ));
    let texts = serde_json::from_str(&text)
        .map(|doc| statement_texts(&doc))
        .unwrap_or_default();
    Some((policy, texts))
}

/// The `trellis_authz_decisions_total` series a snapshot needs, in the order its handles are
/// handed out: every statement of the network level, its `none`, the same for the service
/// level, then every identity key and the identity `none`. Only the decision a statement can
/// make gets a series.
#[derive(Debug, Default)]
struct SeriesPlan {
    wanted: Vec<(PolicyLayer, String, Decision)>,
}

impl SeriesPlan {
    /// Plans one auth level; returns how many handles it takes (statements, then `none`).
    fn level(
        &mut self,
        layer: PolicyLayer,
        policy: Option<&(CompiledPolicy, Vec<String>)>,
    ) -> usize {
        let before = self.wanted.len();
        if let Some((policy, texts)) = policy {
            for s in policy.statements() {
                let text = texts.get(s.index).map(String::as_str);
                self.wanted.push((
                    layer,
                    statement_label(s.index, s.sid, text),
                    Decision::of(s.effect),
                ));
            }
        }
        self.wanted.push((layer, "none".to_owned(), Decision::Deny));
        self.wanted.len() - before
    }
}

fn take_level(
    auth: AuthType,
    policy: Option<(CompiledPolicy, Vec<String>)>,
    handles: &mut std::vec::IntoIter<prometheus::IntCounter>,
    count: usize,
) -> Result<LevelPolicy, LoadError> {
    let mut counters: Vec<prometheus::IntCounter> = handles.by_ref().take(count).collect();
    let none = counters
        .pop()
        .ok_or_else(|| LoadError("trellis: no statement counters were resolved".to_owned()))?;
    Ok(LevelPolicy {
        auth,
        policies: policy.map(|(p, _)| p).into_iter().collect(),
        counters,
        none,
    })
}

/// The identity headers and log fields of a caller (also of STS token callers, per snapshot).
pub(crate) fn caller_view(p: &PrincipalRecord) -> Result<CallerView, LoadError> {
    let tags: Vec<(&str, &str)> = p
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    let identity = CallerIdentity::new(&IdentityFields {
        principal: &p.caller_arn,
        org_id: p.org_id.as_deref().unwrap_or(""),
        session_name: p.session_name.as_deref().unwrap_or(""),
        tags: &tags,
    })
    .map_err(|e| LoadError(format!("principal `{}`: error: {e}", p.caller_arn)))?;
    let tags_json = (!p.tags.is_empty()).then(|| {
        let map: serde_json::Map<String, serde_json::Value> = p
            .tags
            .iter()
            .map(|t| (t.key.clone(), serde_json::Value::String(t.value.clone())))
            .collect();
        Arc::from(serde_json::Value::Object(map).to_string())
    });
    Ok(CallerView {
        identity,
        log: CallerLog {
            principal: p.caller_arn.as_str().into(),
            org_id: p.org_id.as_deref().map(Arc::from),
            tags_json,
        },
    })
}

/// The identity statements' keys and labels, in first-seen order. A named statement is keyed
/// by its Sid (the label), an unnamed one by its principal and position, labelled by its
/// text's hash. A decision reports only the position of a matched statement, not which of a
/// principal's policies it is in: unnamed statements of one effect at the same position in
/// several policies of one principal share a series, labelled by the hash of their texts
/// together.
fn plan_identity(store: &PrincipalStore, texts: &[Vec<Vec<String>>]) -> Vec<(IdentityKey, String)> {
    let mut keys: Vec<(IdentityKey, Vec<&str>)> = Vec::new();
    let mut position: HashMap<IdentityKey, usize> = HashMap::new();
    for (handle, p) in store.principals().iter().enumerate() {
        for (n, policy) in p.policies.iter().enumerate() {
            for s in policy.statements() {
                let decision = Decision::of(s.effect);
                let key = match s.sid {
                    Some(sid) => IdentityKey::Named(Arc::from(sid), decision),
                    None => IdentityKey::Unnamed {
                        principal: handle,
                        index: u32::try_from(s.index).unwrap_or(u32::MAX),
                        decision,
                    },
                };
                let text = texts
                    .get(handle)
                    .and_then(|t| t.get(n))
                    .and_then(|t| t.get(s.index))
                    .map_or("", String::as_str);
                match position.get(&key) {
                    Some(&i) => keys[i].1.push(text),
                    None => {
                        position.insert(key.clone(), keys.len());
                        keys.push((key, vec![text]));
                    }
                }
            }
        }
    }
    keys.into_iter()
        .map(|(key, texts)| {
            let label = match &key {
                IdentityKey::Named(sid, _) => sid.to_string(),
                IdentityKey::Unnamed { index, .. } => {
                    let joined = texts.join("\n");
                    statement_label(
                        *index as usize,
                        None,
                        (!joined.is_empty()).then_some(&joined),
                    )
                }
            };
            (key, label)
        })
        .collect()
}

/// The canonical statement texts of every principal's identity policies, by principal, policy
/// and statement (file order, as the store keeps them).
fn identity_texts(principals_text: &str) -> Vec<Vec<Vec<String>>> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(principals_text) else {
        return Vec::new();
    };
    let Some(principals) = doc.get("principals").and_then(|p| p.as_array()) else {
        return Vec::new();
    };
    principals
        .iter()
        .map(|p| {
            p.get("policies")
                .and_then(|v| v.as_array())
                .map(|policies| policies.iter().map(statement_texts).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// Lines warning about keys whose access key id contains `EXAMPLE`: the keys of AWS's
/// documentation and of this project's examples are public, so anyone can sign as that caller.
pub(super) fn example_key_warnings(store: &PrincipalStore) -> Vec<String> {
    store
        .principals()
        .iter()
        .flat_map(|p| {
            p.keys
                .iter()
                .filter(|k| k.access_key_id.contains("EXAMPLE"))
                .map(move |k| {
                    format!(
                        "trellis: warning: principal `{}` has access key `{}`, a public example key (its id contains `EXAMPLE`): anyone can sign as this caller; replace it before serving real traffic",
                        p.caller_arn, k.access_key_id
                    )
                })
        })
        .collect()
}

/// Reads, validates and compiles every configured file. Every problem of every file is
/// reported at once; each file's result is counted in `trellis_policy_reloads_total` (`ok`
/// only when the whole snapshot is good, as nothing of it is used otherwise).
pub fn load(
    config: &SnapshotConfig,
    metrics: &Metrics,
    report: &Reporter,
) -> Result<Snapshot, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    let mut bad = Vec::new();
    let mut policy = |path: &Option<std::path::PathBuf>,
                      errors: &mut Vec<LoadError>,
                      files: &mut Vec<LoadedFile>| {
        let path = path.as_ref()?;
        let before = errors.len();
        let p = load_policy(path, errors, files, report);
        if errors.len() > before || p.is_none() {
            bad.push(path.clone());
        }
        p
    };
    let network = policy(&config.network_policy, &mut errors, &mut files);
    let service = policy(&config.service_policy, &mut errors, &mut files);
    let mut principals_text = None;
    let principals = match &config.principals {
        None => Some(PrincipalStore::empty()),
        Some(path) => read(path, &mut errors).and_then(|text| {
            let env = |name: &str| std::env::var(name).ok();
            match PrincipalStore::load(path, &text, &env, SystemTime::now()) {
                Ok((store, warnings)) => {
                    let name = path.display().to_string();
                    for w in &warnings {
                        report.report(Report::Warning(&format!("{name}:{w}")));
                    }
                    let statements = store
                        .principals()
                        .iter()
                        .flat_map(|p| p.policies.iter())
                        .map(CompiledPolicy::statement_count)
                        .sum();
                    if let Some(sha256) = store.content_sha256() {
                        files.push(LoadedFile::principals(
                            path.clone(),
                            sha256,
                            statements,
                            SystemTime::now(),
                        ));
                    }
                    principals_text = Some(text);
                    Some(store)
                }
                Err(diagnostics) => {
                    let name = path.display().to_string();
                    errors.extend(diagnostics.iter().map(|d| LoadError(format!("{name}:{d}"))));
                    None
                }
            }
        }),
    };
    if principals.is_none() {
        if let Some(p) = &config.principals {
            bad.push(p.clone());
        }
    }
    let count = |path: &Path, ok: bool| {
        let _ = metrics.policy_reload(&path.display().to_string(), ok);
    };
    let (Some(principals), true) = (principals, errors.is_empty()) else {
        for path in config.files() {
            if bad.contains(&path) {
                count(&path, false);
            } else {
                // Read and valid, but not put in force because another file was not.
                metrics.set_last_reload_success(&path.display().to_string(), true);
            }
        }
        return Err(errors);
    };
    let policies = || {
        network
            .iter()
            .chain(&service)
            .map(|(policy, _labels)| policy)
            .chain(principals.principals().iter().flat_map(|p| &p.policies))
    };
    let read_headers = super::read_headers::read_headers(policies());
    let read_query_keys = super::read_headers::read_query_keys(policies());
    let build = || -> Result<Snapshot, LoadError> {
        let callers = principals
            .principals()
            .iter()
            .map(caller_view)
            .collect::<Result<Vec<_>, _>>()?;
        let texts = principals_text
            .as_deref()
            .map(identity_texts)
            .unwrap_or_default();
        let identity = plan_identity(&principals, &texts);
        let mut plan = SeriesPlan::default();
        let network_count = plan.level(PolicyLayer::Network, network.as_ref());
        let service_count = plan.level(PolicyLayer::Service, service.as_ref());
        for (key, label) in &identity {
            plan.wanted
                .push((PolicyLayer::Identity, label.clone(), key.decision()));
        }
        plan.wanted
            .push((PolicyLayer::Identity, "none".to_owned(), Decision::Deny));
        let wanted: Vec<(PolicyLayer, &str, Decision)> = plan
            .wanted
            .iter()
            .map(|(l, s, d)| (*l, s.as_str(), *d))
            .collect();
        // Last: resolving replaces the series of the snapshot in force.
        let mut handles = metrics
            .statement_counters(&wanted)
            .map_err(|e| LoadError(format!("trellis: {e}")))?
            .into_iter();
        let network = take_level(config.network_auth, network, &mut handles, network_count)?;
        let service = take_level(config.service_auth, service, &mut handles, service_count)?;
        let identity_counters: trellis_policy::FxHashMap<IdentityKey, prometheus::IntCounter> =
            identity
                .into_iter()
                .map(|(key, _)| key)
                .zip(handles.by_ref())
                .collect();
        let identity_none = handles
            .next()
            .ok_or_else(|| LoadError("trellis: no statement counters were resolved".to_owned()))?;
        Ok(Snapshot {
            network,
            service,
            principals,
            callers,
            identity_counters,
            identity_none,
            files,
            read_headers,
            read_query_keys,
            shadow: None,
        })
    };
    match build() {
        Ok(snapshot) => {
            for path in config.files() {
                count(&path, true);
            }
            Ok(snapshot)
        }
        Err(e) => {
            for path in config.files() {
                count(&path, false);
            }
            Err(vec![e])
        }
    }
}
