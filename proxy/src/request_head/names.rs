//! Names of the headers the proxy owns: it removes what a caller sends under them and sets
//! its own (`x-amzn-lattice-*`, `x-forwarded-*`).

use http::header::HeaderName;

/// `x-amzn-lattice-identity`.
pub static X_AMZN_LATTICE_IDENTITY: HeaderName = HeaderName::from_static("x-amzn-lattice-identity");
/// `x-amzn-lattice-identity-tags`.
pub static X_AMZN_LATTICE_IDENTITY_TAGS: HeaderName =
    HeaderName::from_static("x-amzn-lattice-identity-tags");
/// `x-amzn-lattice-target`.
pub static X_AMZN_LATTICE_TARGET: HeaderName = HeaderName::from_static("x-amzn-lattice-target");
/// `x-forwarded-for`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `x-forwarded-port`.
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
/// `x-forwarded-proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Headers a caller could forge to impersonate someone; always removed.
pub static SPOOFABLE: [HeaderName; 7] = [
    HeaderName::from_static("x-amzn-lattice-identity"),
    HeaderName::from_static("x-amzn-lattice-identity-tags"),
    HeaderName::from_static("x-amzn-lattice-network"),
    HeaderName::from_static("x-amzn-lattice-target"),
    HeaderName::from_static("x-amzn-source-vpc"),
    HeaderName::from_static("authorization"),
    HeaderName::from_static("x-amz-security-token"),
];

/// The request id header.
pub static X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
