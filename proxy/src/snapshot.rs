//! Everything a request decision depends on that a reload may change, in one value swapped
//! atomically: compiled auth policies, the principals (keys, identities, precomputed identity
//! headers and log fields), the per-statement metric handles and the `/policy` file list.
//!
//! A reload reads, validates and compiles every configured file off the hot path and swaps
//! only when all of them are good, so a request sees either the old state or the new one,
//! never a mix (a principal handle of one file with the policies of another). A bad file
//! leaves the previous snapshot in force.

mod build;
mod labels;
mod read_headers;
mod report;
mod shadow;

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderName;
use trellis_policy::{CompiledPolicy, LayerPolicy, Matched};

use crate::admin::{FilesSource, LoadedFile, Readiness};
use crate::caller_identity::CallerIdentity;
use crate::error::PolicyLayer;
use crate::logged_facts::CallerLog;
use crate::metrics::{Decision, Metrics};
use crate::principals::PrincipalStore;

pub(crate) use build::caller_view;
pub use build::{load, LoadError};
pub use report::{Report, Reporter};
pub use shadow::{Shadow, ShadowConfig, ShadowMetrics};

/// `--service-auth-type` / `--network-auth-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// The level is not checked.
    None,
    /// The level's auth policy must allow (no policy: nothing is allowed).
    AwsIam,
}

/// The files a snapshot is built from and how each level is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// `--network-auth-type`.
    pub network_auth: AuthType,
    /// `--network-policy`.
    pub network_policy: Option<PathBuf>,
    /// `--service-auth-type`.
    pub service_auth: AuthType,
    /// `--service-policy`.
    pub service_policy: Option<PathBuf>,
    /// `--principals`.
    pub principals: Option<PathBuf>,
}

impl SnapshotConfig {
    /// Every configured file, for the watcher.
    pub fn files(&self) -> Vec<PathBuf> {
        [&self.network_policy, &self.service_policy, &self.principals]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Whether any level checks callers; with none, Lattice does no SigV4 checks at all.
    pub fn auth_enabled(&self) -> bool {
        self.network_auth == AuthType::AwsIam || self.service_auth == AuthType::AwsIam
    }
}

/// One auth level as compiled.
#[derive(Debug)]
pub struct LevelPolicy {
    auth: AuthType,
    policies: Vec<CompiledPolicy>,
    /// Handles by statement index of the (single) policy, each for its statement's effect.
    counters: Vec<prometheus::IntCounter>,
    /// `statement="none"`, `decision="deny"`: an implicit deny with nothing matched.
    none: prometheus::IntCounter,
}

impl LevelPolicy {
    /// The layer as the decision sees it: `NONE` is off; `AWS_IAM` without a policy denies.
    pub fn layer(&self) -> LayerPolicy<'_> {
        match self.auth {
            AuthType::None => LayerPolicy::Off,
            AuthType::AwsIam => LayerPolicy::Policies(&self.policies),
        }
    }
}

/// What the request path needs about one principal, computed when the snapshot is built.
#[derive(Debug)]
pub struct CallerView {
    /// `x-amzn-lattice-identity` and `-tags`, cloned into signed requests.
    pub identity: CallerIdentity,
    /// The caller's access-log fields.
    pub log: CallerLog,
}

/// The state in force; see the module docs.
#[derive(Debug)]
pub struct Snapshot {
    network: LevelPolicy,
    service: LevelPolicy,
    principals: PrincipalStore,
    callers: Vec<CallerView>,
    /// Identity statements' handles; see [`IdentityKey`].
    identity_counters: trellis_policy::FxHashMap<IdentityKey, prometheus::IntCounter>,
    identity_none: prometheus::IntCounter,
    files: Vec<LoadedFile>,
    /// The headers the policies above read (network, service, every principal's identity).
    read_headers: Box<[HeaderName]>,
    /// The query keys they read, lower-cased.
    read_query_keys: Box<[String]>,
    /// The never-enforced shadow policies, when configured.
    shadow: Option<Shadow>,
}

/// How a matched identity statement finds its counter: by its Sid, or, unnamed, by the
/// principal whose policy it is in and its position there (what a decision reports).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum IdentityKey {
    /// A statement with a `Sid`, labelled by it.
    Named(Arc<str>, Decision),
    /// A statement without one, labelled by its text's hash.
    Unnamed {
        /// The principal's handle.
        principal: usize,
        /// The statement's position in its policy.
        index: u32,
        /// What it decides.
        decision: Decision,
    },
}

impl IdentityKey {
    fn of(principal: Option<usize>, m: &Matched) -> Option<Self> {
        let decision = Decision::of(m.effect);
        match &m.sid {
            Some(sid) => Some(Self::Named(Arc::clone(sid), decision)),
            None => Some(Self::Unnamed {
                principal: principal?,
                index: m.index,
                decision,
            }),
        }
    }

    pub(crate) fn decision(&self) -> Decision {
        match self {
            Self::Named(_, d) | Self::Unnamed { decision: d, .. } => *d,
        }
    }
}

impl Snapshot {
    /// The network level.
    pub fn network(&self) -> &LevelPolicy {
        &self.network
    }

    /// The service level.
    pub fn service(&self) -> &LevelPolicy {
        &self.service
    }

    /// The callers and their keys.
    pub fn principals(&self) -> &PrincipalStore {
        &self.principals
    }

    /// The precomputed view of the principal with this handle.
    pub fn caller(&self, principal: usize) -> Option<&CallerView> {
        self.callers.get(principal)
    }

    /// The request headers any policy of this snapshot reads (`RequestHeader/<name>` in a
    /// condition or a policy variable), computed when the snapshot was built: `Authorize`
    /// refuses a request carrying one of them on more than one line.
    pub fn read_headers(&self) -> &[HeaderName] {
        &self.read_headers
    }

    /// The query keys any policy of this snapshot reads (`RequestQueryString/<key>`,
    /// lower-cased): `Authorize` refuses a request carrying one of them in two letter cases.
    pub fn read_query_keys(&self) -> &[String] {
        &self.read_query_keys
    }

    /// The shadow policies, when configured.
    pub fn shadow(&self) -> Option<&Shadow> {
        self.shadow.as_ref()
    }

    /// The files in force, for `/policy`.
    pub fn files(&self) -> &[LoadedFile] {
        &self.files
    }

    /// Keys whose access key id contains `EXAMPLE`, one warning line each.
    pub fn example_key_warnings(&self) -> Vec<String> {
        build::example_key_warnings(&self.principals)
    }

    /// The counters a decision increments: every matched statement of the effect that decided
    /// (in the denying layer for a deny), or the layer's `none` series for an implicit deny
    /// with nothing matched. `principal` is the signed caller's handle (whose identity
    /// policies were evaluated).
    pub fn decision_counters(
        &self,
        principal: Option<usize>,
        matched: &[Matched],
        denied: Option<(PolicyLayer, bool)>,
    ) -> crate::logged_facts::DecisionCounters {
        let mut out = crate::logged_facts::DecisionCounters::new();
        for m in matched {
            let layer = m.layer;
            if layer == PolicyLayer::Policy {
                continue;
            }
            let wanted = match denied {
                None => m.effect == trellis_policy::Effect::Allow,
                Some((l, true)) => l == layer && m.effect == trellis_policy::Effect::Deny,
                Some((_, false)) => false,
            };
            if !wanted {
                continue;
            }
            let counter = match layer {
                PolicyLayer::Network => self.network.counters.get(m.index as usize),
                PolicyLayer::Service => self.service.counters.get(m.index as usize),
                PolicyLayer::Identity => {
                    IdentityKey::of(principal, m).and_then(|k| self.identity_counters.get(&k))
                }
                PolicyLayer::Policy => None,
            };
            if let Some(c) = counter {
                out.push(c.clone());
            }
        }
        if let Some((layer, false)) = denied {
            out.push(
                match layer {
                    PolicyLayer::Network => &self.network.none,
                    PolicyLayer::Service | PolicyLayer::Policy => &self.service.none,
                    PolicyLayer::Identity => &self.identity_none,
                }
                .clone(),
            );
        }
        out
    }
}

/// The shared, swappable snapshot plus what a reload needs: the configuration, the metrics to
/// count reloads in and the readiness flag set by the first good load.
#[derive(Debug, Clone)]
pub struct SnapshotHandle {
    current: Arc<ArcSwap<Snapshot>>,
    config: Arc<SnapshotConfig>,
    metrics: Arc<Metrics>,
    ready: Readiness,
    /// The shadow files and their metric, when any is configured.
    shadow: Option<Arc<(ShadowConfig, ShadowMetrics)>>,
    report: Reporter,
}

impl SnapshotHandle {
    /// Loads the first snapshot; `Err` carries one diagnostic line per problem. Warnings and
    /// the reports of later reloads go to stderr ([`Reporter::stderr`]).
    pub fn load_initial(
        config: SnapshotConfig,
        metrics: Arc<Metrics>,
        ready: Readiness,
    ) -> Result<Self, Vec<LoadError>> {
        Self::load_initial_with_shadow(config, ShadowConfig::default(), metrics, ready)
    }

    /// [`Self::load_initial`] with shadow policies (none when `shadow` is empty). A bad shadow
    /// file stops the start like any bad policy file: there is no last good version yet.
    pub fn load_initial_with_shadow(
        config: SnapshotConfig,
        shadow: ShadowConfig,
        metrics: Arc<Metrics>,
        ready: Readiness,
    ) -> Result<Self, Vec<LoadError>> {
        Self::load_initial_reporting(config, shadow, metrics, ready, Reporter::stderr())
    }

    /// [`Self::load_initial_with_shadow`] telling `report` what the first load and every
    /// reload found (warnings, rejected files, reloads put in force).
    pub fn load_initial_reporting(
        config: SnapshotConfig,
        shadow: ShadowConfig,
        metrics: Arc<Metrics>,
        ready: Readiness,
        report: Reporter,
    ) -> Result<Self, Vec<LoadError>> {
        let shadow = if shadow.is_empty() {
            None
        } else {
            let m = ShadowMetrics::register(metrics.registry())
                .map_err(|e| vec![LoadError(format!("trellis: {e}"))])?;
            Some(Arc::new((shadow, m)))
        };
        let mut snapshot = load(&config, &metrics, &report)?;
        if let Some(s) = &shadow {
            shadow::attach(&mut snapshot, &s.0, &s.1, None, &metrics, &report)?;
        }
        publish_gauges(&metrics, &snapshot);
        for w in snapshot.example_key_warnings() {
            report.report(Report::Warning(&w));
        }
        ready.set(true);
        Ok(Self {
            current: Arc::new(ArcSwap::from_pointee(snapshot)),
            config: Arc::new(config),
            metrics,
            ready,
            shadow,
            report,
        })
    }

    /// The snapshot swap cell, for the auth layers.
    pub fn shared(&self) -> Arc<ArcSwap<Snapshot>> {
        Arc::clone(&self.current)
    }

    /// The snapshot in force.
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Re-reads every file and swaps the result in; on failure the old snapshot stays, each
    /// problem is reported as `FILE:LINE:COL: error: message` and counted. Blocking:
    /// run it off the request path (the watcher runs it on the blocking pool).
    pub fn reload(&self) -> Result<(), Vec<LoadError>> {
        let report = &self.report;
        match load(&self.config, &self.metrics, report) {
            Ok(mut snapshot) => {
                if let Some(s) = &self.shadow {
                    let previous = self.current.load();
                    if let Err(errors) = shadow::attach(
                        &mut snapshot,
                        &s.0,
                        &s.1,
                        previous.shadow(),
                        &self.metrics,
                        report,
                    ) {
                        for e in &errors {
                            report.report(Report::Error(&e.0));
                        }
                        report.report(Report::ShadowRejected);
                    }
                }
                publish_gauges(&self.metrics, &snapshot);
                let warnings = snapshot.example_key_warnings();
                self.current.store(Arc::new(snapshot));
                self.ready.set(true);
                report.report(Report::Reloaded);
                for w in &warnings {
                    report.report(Report::Warning(w));
                }
                Ok(())
            }
            Err(errors) => {
                for e in &errors {
                    report.report(Report::Error(&e.0));
                }
                report.report(Report::Rejected);
                Err(errors)
            }
        }
    }

    /// The `/policy` source over this handle.
    pub fn files_source(&self) -> FilesSource {
        let current = Arc::clone(&self.current);
        Arc::new(move || current.load().files().to_vec())
    }
}

fn publish_gauges(metrics: &Metrics, s: &Snapshot) {
    let count = |l: &LevelPolicy| l.policies.iter().map(CompiledPolicy::statement_count).sum();
    let identity: usize = s
        .principals
        .principals()
        .iter()
        .flat_map(|p| p.policies.iter())
        .map(CompiledPolicy::statement_count)
        .sum();
    let _ = metrics.set_policy_statements(PolicyLayer::Network, count(&s.network));
    let _ = metrics.set_policy_statements(PolicyLayer::Service, count(&s.service));
    let _ = metrics.set_policy_statements(PolicyLayer::Identity, identity);
    let paths: Vec<String> = s
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    let _ = metrics.set_policy_versions(
        paths
            .iter()
            .zip(&s.files)
            .map(|(path, f)| (path.as_str(), f.sha256.as_str())),
    );
    let example_keys = s
        .principals
        .principals()
        .iter()
        .flat_map(|p| &p.keys)
        .filter(|k| k.access_key_id.contains("EXAMPLE"))
        .count();
    metrics.set_example_keys(example_keys);
}

#[cfg(test)]
mod tests;
