//! What loading and reloading the files tell the operator, handed to a [`Reporter`] the caller
//! chooses: `trellis run` writes each report as one stderr line ([`Reporter::stderr`]); a test
//! collects them and asserts on what a reload said.

use std::fmt;
use std::sync::Arc;

/// One thing a load or a reload has to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report<'a> {
    /// A problem that does not stop the file from loading (`FILE:LINE:COL: warning: ...`, or
    /// an example key in the principals file).
    Warning(&'a str),
    /// A problem that rejects a reload or a shadow file (`FILE:LINE:COL: error: ...`).
    Error(&'a str),
    /// A shadow file failed; its last good version stays and the enforced files reload.
    ShadowRejected,
    /// The reloaded files are in force.
    Reloaded,
    /// The reload failed; the previous files stay in force.
    Rejected,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Warning(line) | Self::Error(line) => f.write_str(line),
            Self::ShadowRejected => f.write_str(
                "trellis: shadow policy rejected; its last good version stays, the enforced files reload",
            ),
            Self::Reloaded => f.write_str("trellis: policies and principals reloaded"),
            Self::Rejected => f.write_str(
                "trellis: reload rejected; the previous policies and principals stay in force",
            ),
        }
    }
}

/// Where the reports of a [`super::SnapshotHandle`] go; cheap to clone, shared with the reload
/// task.
#[derive(Clone)]
pub struct Reporter(Arc<dyn Fn(Report<'_>) + Send + Sync>);

impl Reporter {
    /// Hands every report to `f`.
    pub fn new(f: impl Fn(Report<'_>) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Writes every report as one line on stderr: what `trellis run` prints.
    pub fn stderr() -> Self {
        Self::new(|report| eprintln!("{report}"))
    }

    /// Hands `report` to the reporter.
    pub fn report(&self, report: Report<'_>) {
        (self.0)(report);
    }
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reporter")
    }
}
