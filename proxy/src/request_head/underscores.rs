//! Header names with `_`: WSGI and Rack servers (CGI variables `HTTP_X_A`) read `x_a` as
//! `x-a`, so `x_amzn_lattice_identity` from an anonymous caller would be read as the identity
//! header the proxy removed. nginx drops such names by default (`underscores_in_headers off`),
//! Envoy too (`headers_with_underscores_action`); `--headers-with-underscores` chooses.

use http::{HeaderMap, HeaderName};

use super::names::{SPOOFABLE, X_FORWARDED_FOR, X_FORWARDED_PORT, X_FORWARDED_PROTO};
use super::signed::Signed;
use super::{HeaderError, Removal, Underscores};

/// Whether `name` is an underscore spelling of a header the proxy removes or sets for the
/// upstream to trust (the spoofable identity headers, the credentials, `x-forwarded-*`).
fn spells_owned(name: &str) -> bool {
    let same = |owned: &HeaderName| {
        let owned = owned.as_str().as_bytes();
        owned.len() == name.len()
            && owned
                .iter()
                .zip(name.as_bytes())
                .all(|(&o, &n)| o == n || (o == b'-' && n == b'_'))
    };
    SPOOFABLE
        .iter()
        .chain([&X_FORWARDED_FOR, &X_FORWARDED_PORT, &X_FORWARDED_PROTO])
        .any(same)
}

/// Pushes the underscore names to remove onto `remove`: every one under
/// [`Underscores::Drop`], the spellings of owned headers under [`Underscores::Allow`]; under
/// [`Underscores::Reject`] the first one is the error. A signed name is refused rather than
/// removed, which would only fail the signature.
pub(super) fn plan(
    headers: &HeaderMap,
    mode: Underscores,
    signed: &Signed<'_>,
    remove: &mut Vec<HeaderName>,
) -> Result<(), HeaderError> {
    for name in headers.keys().filter(|n| n.as_str().contains('_')) {
        let why = match mode {
            Underscores::Reject => return Err(HeaderError::Underscore(name.as_str().to_owned())),
            _ if spells_owned(name.as_str()) => Removal::OwnedSpelling,
            Underscores::Drop => Removal::Underscore,
            Underscores::Allow => continue,
        };
        if signed.contains(name.as_str()) {
            return Err(HeaderError::SignedRemoved {
                name: name.clone(),
                why,
            });
        }
        remove.push(name.clone());
    }
    Ok(())
}
