//! Reading, validating and compiling the configured files into a [`Snapshot`]. Blocking file
//! I/O: called at start-up and from the reload task, never from a request.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use trellis_policy::{CompiledPolicy, PolicyKind};

use super::{AuthType, CallerView, LevelPolicy, Snapshot, SnapshotConfig};
use crate::admin::LoadedFile;
use crate::caller_identity::{CallerIdentity, IdentityFields};
use crate::cli::diagnostic_line;
use crate::error::PolicyLayer;
use crate::metrics::{Metrics, StatementCounters};
use crate::outcome::CallerLog;
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

fn statement_label(index: usize, sid: Option<&str>) -> String {
    sid.map_or_else(|| format!("#{index}"), str::to_owned)
}

/// Loads one auth policy; `Err` when it cannot be used (the errors are in `errors`).
fn load_policy(
    path: &Path,
    errors: &mut Vec<LoadError>,
    files: &mut Vec<LoadedFile>,
) -> Option<CompiledPolicy> {
    let text = read(path, errors)?;
    let checked = trellis_policy::check(&text, Some(PolicyKind::Auth));
    let name = path.display().to_string();
    for d in &checked.diagnostics {
        let line = diagnostic_line(&name, d);
        if d.is_error() {
            errors.push(LoadError(line));
        } else {
            eprintln!("{line}");
        }
    }
    let policy = checked.compile()?;
    files.push(LoadedFile::new(
        path.to_path_buf(),
        text.as_bytes(),
        policy.statement_count(),
        SystemTime::now(),
    ));
    Some(policy)
}

fn level(
    auth: AuthType,
    policy: Option<CompiledPolicy>,
    layer: PolicyLayer,
    metrics: &Metrics,
) -> Result<LevelPolicy, LoadError> {
    let labels: Vec<String> = policy
        .iter()
        .flat_map(|p| p.statements())
        .map(|s| statement_label(s.index, s.sid))
        .chain(std::iter::once("none".to_owned()))
        .collect();
    let pairs: Vec<(PolicyLayer, &str)> = labels.iter().map(|l| (layer, l.as_str())).collect();
    let mut counters = metrics
        .statement_counters(&pairs)
        .map_err(|e| LoadError(format!("trellis: {e}")))?;
    let none = counters
        .pop()
        .ok_or_else(|| LoadError("trellis: no statement counters were resolved".to_owned()))?;
    Ok(LevelPolicy {
        auth,
        policies: policy.into_iter().collect(),
        counters,
        none,
    })
}

fn caller_view(p: &PrincipalRecord) -> Result<CallerView, LoadError> {
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

type IdentityCounters = (
    HashMap<(Option<Arc<str>>, u32), StatementCounters>,
    StatementCounters,
);

fn identity_counters(
    store: &PrincipalStore,
    metrics: &Metrics,
) -> Result<IdentityCounters, LoadError> {
    let mut keys: Vec<(Option<Arc<str>>, u32)> = Vec::new();
    for p in store.principals() {
        for s in p.policies.iter().flat_map(CompiledPolicy::statements) {
            let key = match s.sid {
                Some(sid) => (Some(Arc::from(sid)), 0),
                None => (None, u32::try_from(s.index).unwrap_or(u32::MAX)),
            };
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let labels: Vec<String> = keys
        .iter()
        .map(|(sid, i)| {
            sid.as_deref()
                .map_or_else(|| format!("#{i}"), str::to_owned)
        })
        .chain(std::iter::once("none".to_owned()))
        .collect();
    let pairs: Vec<(PolicyLayer, &str)> = labels
        .iter()
        .map(|l| (PolicyLayer::Identity, l.as_str()))
        .collect();
    let mut counters = metrics
        .statement_counters(&pairs)
        .map_err(|e| LoadError(format!("trellis: {e}")))?;
    let none = counters
        .pop()
        .ok_or_else(|| LoadError("trellis: no statement counters were resolved".to_owned()))?;
    Ok((keys.into_iter().zip(counters).collect(), none))
}

/// Reads, validates and compiles every configured file. Every problem of every file is
/// reported at once; each file's result is counted in `trellis_policy_reloads_total` (`ok`
/// only when the whole snapshot is good, as nothing of it is used otherwise).
pub fn load(config: &SnapshotConfig, metrics: &Metrics) -> Result<Snapshot, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    let mut bad = Vec::new();
    let mut policy = |path: &Option<std::path::PathBuf>,
                      errors: &mut Vec<LoadError>,
                      files: &mut Vec<LoadedFile>| {
        let path = path.as_ref()?;
        let before = errors.len();
        let p = load_policy(path, errors, files);
        if errors.len() > before || p.is_none() {
            bad.push(path.clone());
        }
        p
    };
    let network = policy(&config.network_policy, &mut errors, &mut files);
    let service = policy(&config.service_policy, &mut errors, &mut files);
    let principals = match &config.principals {
        None => Some(PrincipalStore::empty()),
        Some(path) => read(path, &mut errors).and_then(|text| {
            let env = |name: &str| std::env::var(name).ok();
            match PrincipalStore::load(path, &text, &env, SystemTime::now()) {
                Ok((store, warnings)) => {
                    let name = path.display().to_string();
                    for w in &warnings {
                        eprintln!("{}", diagnostic_line(&name, w));
                    }
                    if let Some(sha256) = store.content_sha256() {
                        files.push(LoadedFile::principals(
                            path.clone(),
                            sha256,
                            SystemTime::now(),
                        ));
                    }
                    Some(store)
                }
                Err(diagnostics) => {
                    let name = path.display().to_string();
                    errors.extend(
                        diagnostics
                            .iter()
                            .map(|d| LoadError(diagnostic_line(&name, d))),
                    );
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
        for path in &bad {
            count(path, false);
        }
        return Err(errors);
    };
    let build = || -> Result<Snapshot, LoadError> {
        let callers = principals
            .principals()
            .iter()
            .map(caller_view)
            .collect::<Result<Vec<_>, _>>()?;
        let (identity_counters, identity_none) = identity_counters(&principals, metrics)?;
        Ok(Snapshot {
            network: level(config.network_auth, network, PolicyLayer::Network, metrics)?,
            service: level(config.service_auth, service, PolicyLayer::Service, metrics)?,
            principals,
            callers,
            identity_counters,
            identity_none,
            files,
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
