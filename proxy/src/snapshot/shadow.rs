//! Shadow policies (`--shadow-service-policy`, `--shadow-network-policy`): a second,
//! never-enforced policy set held in the same [`Snapshot`] as the enforced one, so a request's
//! shadow decision uses the principals and enforced layers of the very snapshot that decided it.
//!
//! A shadow file is watched and reloaded like the enforced files, but it is a candidate, not
//! protection: a shadow file that fails validation is rejected, logged and counted like any
//! policy file and its last good version stays, while the enforced files reload regardless.
//! A broken candidate must never hold back a fix to the policies in force. At start-up there is
//! no last good version, so a bad shadow file stops the start as any bad policy file does.
//!
//! The `trellis_shadow_decisions_total` handles are resolved here, when the snapshot is built,
//! for every statement the shadow decision can end on (the shadow files' statements, the
//! enforced statements of the layers not shadowed, each layer's `none`), two per statement
//! (enforced `allow` / `deny`): the request path only picks one and increments it.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use trellis_policy::{CompiledPolicy, LayerPolicy, Matched};

use super::build::{load_policy, statement_label, LoadError};
use super::report::Reporter;
use super::{IdentityKey, LevelPolicy, Snapshot};
use crate::admin::LoadedFile;
use crate::error::PolicyLayer;
use crate::metrics::{Decision, Metrics, MAX_STATEMENT_LABELS};

/// The shadow files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowConfig {
    /// `--shadow-network-policy`.
    pub network_policy: Option<PathBuf>,
    /// `--shadow-service-policy`.
    pub service_policy: Option<PathBuf>,
}

impl ShadowConfig {
    /// Every configured shadow file, for the watcher.
    pub fn files(&self) -> Vec<PathBuf> {
        [&self.network_policy, &self.service_policy]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Whether no shadow file is configured.
    pub fn is_empty(&self) -> bool {
        self.network_policy.is_none() && self.service_policy.is_none()
    }
}

/// One shadow file as compiled, kept across reloads while its replacement is invalid.
#[derive(Debug)]
struct ShadowFile {
    policy: CompiledPolicy,
    /// The `statement` label of each statement, by index.
    labels: Vec<String>,
    file: LoadedFile,
}

/// Handles of one statement's series: `[enforced allow, enforced deny]`.
pub type PairCounters = [IntCounter; 2];

/// The shadow series of one layer as the shadow decision sees it.
#[derive(Debug)]
struct LevelCounters {
    /// By statement index, for the statement's own effect.
    statements: Vec<PairCounters>,
    /// `statement="none"`, `shadow="deny"`.
    none: PairCounters,
}

/// The shadow set in force; see the module docs.
#[derive(Debug)]
pub struct Shadow {
    network: Option<Arc<ShadowFile>>,
    service: Option<Arc<ShadowFile>>,
    network_counters: LevelCounters,
    service_counters: LevelCounters,
    identity_counters: trellis_policy::FxHashMap<IdentityKey, PairCounters>,
    identity_none: PairCounters,
}

fn layer_of<'a>(shadow: Option<&'a Arc<ShadowFile>>, enforced: &'a LevelPolicy) -> LayerPolicy<'a> {
    match shadow {
        // A shadow file is evaluated as the policy of an `AWS_IAM` level: it answers "what if
        // this policy were in force", whatever the level's auth type is now.
        Some(f) => LayerPolicy::Policies(std::slice::from_ref(&f.policy)),
        None => enforced.layer(),
    }
}

impl Shadow {
    /// The network layer of the shadow decision: the shadow file, else the enforced one.
    pub fn network<'a>(&'a self, snapshot: &'a Snapshot) -> LayerPolicy<'a> {
        layer_of(self.network.as_ref(), &snapshot.network)
    }

    /// The service layer of the shadow decision: the shadow file, else the enforced one.
    pub fn service<'a>(&'a self, snapshot: &'a Snapshot) -> LayerPolicy<'a> {
        layer_of(self.service.as_ref(), &snapshot.service)
    }

    /// Whether a shadow file stands in for `layer`.
    pub fn shadows(&self, layer: PolicyLayer) -> bool {
        match layer {
            PolicyLayer::Network => self.network.is_some(),
            PolicyLayer::Service | PolicyLayer::Policy => self.service.is_some(),
            PolicyLayer::Identity => false,
        }
    }

    /// The series a shadow decision ending on `decider` counts in (`None`: the layer's implicit
    /// deny, `statement="none"`); `enforced_allowed` picks the `enforced` label. `principal` is
    /// the signed caller's handle, for unnamed identity statements.
    pub fn counter(
        &self,
        layer: PolicyLayer,
        decider: Option<&Matched>,
        principal: Option<usize>,
        enforced_allowed: bool,
    ) -> Option<&IntCounter> {
        let pair = match (layer, decider) {
            (PolicyLayer::Network, Some(m)) => {
                self.network_counters.statements.get(m.index as usize)
            }
            (PolicyLayer::Service | PolicyLayer::Policy, Some(m)) => {
                self.service_counters.statements.get(m.index as usize)
            }
            (PolicyLayer::Identity, Some(m)) => {
                IdentityKey::of(principal, m).and_then(|k| self.identity_counters.get(&k))
            }
            (PolicyLayer::Network, None) => Some(&self.network_counters.none),
            (PolicyLayer::Service | PolicyLayer::Policy, None) => Some(&self.service_counters.none),
            (PolicyLayer::Identity, None) => Some(&self.identity_none),
        }?;
        Some(&pair[usize::from(!enforced_allowed)])
    }
}

/// `trellis_shadow_decisions_total` and the set of its series in force.
#[derive(Debug)]
pub struct ShadowMetrics {
    decisions: IntCounterVec,
    series: Mutex<HashSet<[String; 4]>>,
}

impl ShadowMetrics {
    /// Registers the metric in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let decisions = IntCounterVec::new(
            Opts::new(
                "trellis_shadow_decisions_total",
                "Requests by enforced decision and the shadow policies' decision, with the layer and statement of the shadow decision.",
            ),
            &["enforced", "shadow", "layer", "statement"],
        )?;
        registry.register(Box::new(decisions.clone()))?;
        Ok(Self {
            decisions,
            series: Mutex::default(),
        })
    }

    /// Resolves the handle pairs of the snapshot about to be put in force, one per
    /// `(layer, statement, shadow decision)` in input order, and removes the shadow series no
    /// longer listed. Touches only this metric: the enforced `trellis_authz_decisions_total`
    /// series are left alone. At most [`MAX_STATEMENT_LABELS`] statement values per layer, the
    /// rest share `other`, as for the enforced metric.
    fn resolve(
        &self,
        wanted: &[(PolicyLayer, &str, Decision)],
    ) -> Result<Vec<PairCounters>, prometheus::Error> {
        let mut state = self
            .series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut labels: HashMap<&'static str, HashSet<&str>> = HashMap::new();
        let mut series = HashSet::with_capacity(wanted.len() * 2);
        let mut out = Vec::with_capacity(wanted.len());
        for &(layer, statement, shadow) in wanted {
            let layer_labels = labels.entry(layer.as_str()).or_default();
            let label =
                if layer_labels.contains(statement) || layer_labels.len() < MAX_STATEMENT_LABELS {
                    layer_labels.insert(statement);
                    statement
                } else {
                    "other"
                };
            let mut pair = Vec::with_capacity(2);
            for enforced in [Decision::Allow, Decision::Deny] {
                let values = [enforced.label(), shadow.label(), layer.as_str(), label];
                pair.push(self.decisions.get_metric_with_label_values(&values)?);
                series.insert(values.map(str::to_owned));
            }
            let pair: PairCounters = pair
                .try_into()
                .map_err(|_| prometheus::Error::Msg("label count mismatch".to_owned()))?;
            out.push(pair);
        }
        for old in state.difference(&series) {
            let values: Vec<&str> = old.iter().map(String::as_str).collect();
            let _ = self.decisions.remove_label_values(&values);
        }
        *state = series;
        Ok(out)
    }
}

/// A label value of a resolved counter (the enforced handles carry their own labels).
fn label_of(counter: &IntCounter, name: &str) -> Option<String> {
    use prometheus::core::Metric as _;
    counter
        .metric()
        .get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value().to_owned())
}

/// The enforced statements' `(statement, decision)` labels, by index.
fn enforced_labels(level: &LevelPolicy) -> Vec<(String, Decision)> {
    level
        .counters
        .iter()
        .map(|c| {
            let statement = label_of(c, "statement").unwrap_or_else(|| "other".to_owned());
            let decision = match label_of(c, "decision").as_deref() {
                Some("allow") => Decision::Allow,
                _ => Decision::Deny,
            };
            (statement, decision)
        })
        .collect()
}

fn file_labels(file: &ShadowFile) -> Vec<(String, Decision)> {
    file.policy
        .statements()
        .map(|s| {
            let label = file
                .labels
                .get(s.index)
                .cloned()
                .unwrap_or_else(|| statement_label(s.index, s.sid, None));
            (label, Decision::of(s.effect))
        })
        .collect()
}

/// Loads one shadow file; on failure the previous version stays (`None` without one) and the
/// problems are added to `errors`. Counted in the reload metrics either way.
fn load_file(
    path: Option<&PathBuf>,
    previous: Option<&Arc<ShadowFile>>,
    metrics: &Metrics,
    errors: &mut Vec<LoadError>,
    report: &Reporter,
) -> Option<Arc<ShadowFile>> {
    let path = path?;
    let before = errors.len();
    let mut files = Vec::new();
    let loaded = load_policy(path, errors, &mut files, report);
    let ok = errors.len() == before;
    let _ = metrics.policy_reload(&path.display().to_string(), ok);
    match (loaded, files.pop(), ok) {
        (Some((policy, texts)), Some(file), true) => {
            let labels = policy
                .statements()
                .map(|s| statement_label(s.index, s.sid, texts.get(s.index).map(String::as_str)))
                .collect();
            Some(Arc::new(ShadowFile {
                policy,
                labels,
                file,
            }))
        }
        _ => previous.cloned(),
    }
}

/// Loads the shadow files into `snapshot` (the one about to be put in force), keeping the
/// previous version of a file that fails, and resolves the shadow series for it. `Err` lists
/// the problems: at start-up (`previous` is `None`) the caller refuses to start; on a reload
/// the snapshot still carries the last good shadow files and the caller puts it in force.
pub(super) fn attach(
    snapshot: &mut Snapshot,
    config: &ShadowConfig,
    shadow_metrics: &ShadowMetrics,
    previous: Option<&Shadow>,
    metrics: &Metrics,
    report: &Reporter,
) -> Result<(), Vec<LoadError>> {
    let mut errors = Vec::new();
    let network = load_file(
        config.network_policy.as_ref(),
        previous.and_then(|p| p.network.as_ref()),
        metrics,
        &mut errors,
        report,
    );
    let service = load_file(
        config.service_policy.as_ref(),
        previous.and_then(|p| p.service.as_ref()),
        metrics,
        &mut errors,
        report,
    );
    let missing = (config.network_policy.is_some() && network.is_none())
        || (config.service_policy.is_some() && service.is_none());
    if missing {
        return Err(errors);
    }
    let network_labels = network
        .as_deref()
        .map_or_else(|| enforced_labels(&snapshot.network), file_labels);
    let service_labels = service
        .as_deref()
        .map_or_else(|| enforced_labels(&snapshot.service), file_labels);
    let identity: Vec<(IdentityKey, String)> = snapshot
        .identity_counters
        .iter()
        .map(|(k, c)| {
            (
                k.clone(),
                label_of(c, "statement").unwrap_or_else(|| "other".to_owned()),
            )
        })
        .collect();
    let mut wanted: Vec<(PolicyLayer, &str, Decision)> = Vec::new();
    for (layer, labels) in [
        (PolicyLayer::Network, &network_labels),
        (PolicyLayer::Service, &service_labels),
    ] {
        wanted.extend(labels.iter().map(|(s, d)| (layer, s.as_str(), *d)));
        wanted.push((layer, "none", Decision::Deny));
    }
    wanted.extend(
        identity
            .iter()
            .map(|(k, s)| (PolicyLayer::Identity, s.as_str(), k.decision())),
    );
    wanted.push((PolicyLayer::Identity, "none", Decision::Deny));
    let mut pairs = shadow_metrics
        .resolve(&wanted)
        .map_err(|e| vec![LoadError(format!("trellis: {e}"))])?
        .into_iter();
    let mut level = |count: usize| -> Result<LevelCounters, Vec<LoadError>> {
        let statements: Vec<PairCounters> = pairs.by_ref().take(count).collect();
        let none = pairs.next();
        match (statements.len() == count, none) {
            (true, Some(none)) => Ok(LevelCounters { statements, none }),
            _ => Err(vec![LoadError(
                "trellis: no shadow statement counters were resolved".to_owned(),
            )]),
        }
    };
    let network_counters = level(network_labels.len())?;
    let service_counters = level(service_labels.len())?;
    let identity_counters: trellis_policy::FxHashMap<IdentityKey, PairCounters> = identity
        .into_iter()
        .map(|(k, _)| k)
        .zip(pairs.by_ref())
        .collect();
    let identity_none = pairs.next().ok_or_else(|| {
        vec![LoadError(
            "trellis: no shadow statement counters were resolved".to_owned(),
        )]
    })?;
    for f in [&network, &service].into_iter().flatten() {
        snapshot.files.push(f.file.clone());
    }
    snapshot.shadow = Some(Shadow {
        network,
        service,
        network_counters,
        service_counters,
        identity_counters,
        identity_none,
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
