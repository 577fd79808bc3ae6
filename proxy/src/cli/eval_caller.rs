//! `policy eval --principals FILE`: the caller of a request as `trellis run` would know it —
//! its session, identity policies, tags and organization from the principals file — so `eval`
//! and the proxy decide alike.

use trellis_policy::{Context, Key, MapContext, Values};

pub(crate) use crate::principals::{find_caller as find, KnownCaller};

/// The request's context over the caller's keys: a key the request gives in `context` wins;
/// otherwise the principals file answers the keys `trellis run` takes from it (the principal
/// keys, organization, tags); every other key comes from the request.
pub(crate) struct CallerContext<'a> {
    pub(crate) given: &'a MapContext,
    /// Lower-cased names of the keys the request's `context` gives.
    pub(crate) explicit: &'a [String],
    pub(crate) caller: KnownCaller<'a>,
}

impl Context for CallerContext<'_> {
    fn get(&self, key: &Key<'_>) -> Option<Values<'_>> {
        if self.explicit.iter().any(|k| k == key.name) {
            return self.given.get(key);
        }
        self.caller
            .record
            .condition_value(key)
            .or_else(|| self.given.get(key))
    }
}
