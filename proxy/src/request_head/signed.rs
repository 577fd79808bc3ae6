//! The header names a request signed, read only to answer a removal that would break the
//! signature with a clear 400 instead of a signature mismatch the caller cannot explain. The
//! verifier parses and checks the same lists itself; nothing here decides who the caller is.

use http::header::AUTHORIZATION;
use http::HeaderMap;

/// The `SignedHeaders=` list of an AWS `Authorization` header and the `X-Amz-SignedHeaders`
/// query parameter (percent-encoded: `;` arrives as `%3B`), borrowed from the request.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Signed<'a> {
    header: Option<&'a str>,
    query: Option<&'a str>,
}

impl<'a> Signed<'a> {
    /// Finds both lists; no allocation.
    pub(super) fn of(headers: &'a HeaderMap, query: Option<&'a str>) -> Self {
        let header = headers
            .get_all(AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| {
                v.trim_start()
                    .get(..4)
                    .is_some_and(|p| p.eq_ignore_ascii_case("AWS4"))
            })
            .find_map(|v| {
                v.split([',', ' ', '\t'])
                    .find_map(|part| part.strip_prefix("SignedHeaders="))
            });
        let query = query.and_then(|q| {
            q.split('&')
                .find_map(|item| item.strip_prefix("X-Amz-SignedHeaders="))
        });
        Self { header, query }
    }

    /// Whether `name` is signed (names compare case-insensitively); `:authority` counts as a
    /// lower-case `host`.
    pub(super) fn contains(&self, name: &str) -> bool {
        let query = self
            .query
            .into_iter()
            .flat_map(|q| q.split("%3B").flat_map(|p| p.split("%3b")));
        self.header
            .into_iter()
            .chain(query)
            .flat_map(|list| list.split(';'))
            .any(|n| n.eq_ignore_ascii_case(name) || (name == "host" && n == ":authority"))
    }
}
