//! `RequestQueryString/<key>`: the decoded query values grouped by lower-cased key.

/// Built in O(n log n) (one stable sort) and looked up by binary search, so a query of
/// thousands of keys at the URI size limit costs no quadratic work, and one of a few keys sorts
/// in a few comparisons.
#[derive(Debug, Default)]
pub(crate) struct QueryGroups(Vec<(String, Vec<String>)>);

impl QueryGroups {
    /// Groups `pairs` (decoded, in query order) by ASCII-lower-cased key.
    pub(crate) fn new(mut pairs: Vec<(String, String)>) -> Self {
        for (k, _) in &mut pairs {
            k.make_ascii_lowercase();
        }
        // Stable: the values of one key keep their query order.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in pairs {
            match groups.last_mut() {
                Some((last, values)) if *last == k => values.push(v),
                _ => groups.push((k, vec![v])),
            }
        }
        Self(groups)
    }

    /// The values of lower-case `key`, in query order.
    pub(crate) fn get(&self, key: &str) -> Option<&Vec<String>> {
        let i = self.0.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
        self.0.get(i).map(|(_, values)| values)
    }

    /// How many distinct keys the query holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::NormalizedPath;
    use crate::server::ServerConfig;

    #[test]
    fn query_grouping_is_correct_at_the_uri_size_limit() {
        const DISTINCT: usize = 10_000;
        const REPEATS: usize = 2_000;
        let mut query = String::new();
        for i in 0..DISTINCT {
            query.push_str(&format!("{i:04x}={i:x}&"));
            if i % (DISTINCT / REPEATS) == 0 {
                // The same key in three spellings, interleaved with the distinct ones.
                let spelling = ["tag", "Tag", "TAG"][i % 3];
                query.push_str(&format!("{spelling}={i:x}&"));
            }
        }
        query.pop();
        let limit = ServerConfig::default().max_header_bytes;
        assert!(
            query.len() + 64 < limit,
            "{} bytes must fit a request head",
            query.len()
        );
        assert!(
            query.len() > limit / 2,
            "{} bytes is not near the limit",
            query.len()
        );

        let path = NormalizedPath::new("/q", Some(&query)).unwrap();
        let groups = QueryGroups::new(path.query_pairs());
        assert_eq!(groups.len(), DISTINCT + 1);
        for i in 0..DISTINCT {
            let values = groups.get(&format!("{i:04x}")).unwrap();
            assert_eq!(values, &[format!("{i:x}")], "{i:04x}");
        }
        let tags: Vec<String> = (0..DISTINCT)
            .step_by(DISTINCT / REPEATS)
            .map(|i| format!("{i:x}"))
            .collect();
        assert_eq!(tags.len(), REPEATS);
        assert_eq!(groups.get("tag").unwrap(), &tags);
        assert!(
            groups.get("Tag").is_none(),
            "lookups are by the lower-case key"
        );
        assert!(groups.get("000").is_none());
        assert!(groups.get("zzz").is_none());
    }

    #[test]
    fn query_grouping_keeps_the_order_of_a_keys_values_and_folds_case() {
        let pairs = [("b", "1"), ("A", "x"), ("a", "y"), ("b", "2"), ("c", "")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let groups = QueryGroups::new(pairs);
        assert_eq!(groups.get("a").unwrap(), &["x", "y"]);
        assert_eq!(groups.get("b").unwrap(), &["1", "2"]);
        assert_eq!(groups.get("c").unwrap(), &[""]);
        assert_eq!(groups.len(), 3);
        assert!(QueryGroups::new(Vec::new()).get("a").is_none());
    }
}
