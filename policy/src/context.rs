//! Where condition values come from at request time.

use crate::key::Key;
use std::borrow::Cow;
use std::collections::HashMap;

/// Where condition values come from. A key that does not apply is absent (`None`), never `""`:
/// `Null`, `…IfExists` and the negated-operator rule all depend on that distinction.
pub trait Context {
    fn get(&self, key: &Key<'_>) -> Option<Values<'_>>;
}

/// The value(s) of one key. `Many` is a multivalued key (even with one element): plain
/// operators never match it, only `ForAnyValue:`/`ForAllValues:` do.
#[derive(Clone, Copy)]
pub enum Values<'a> {
    One(&'a str),
    Many(&'a dyn ValueList),
}

impl std::fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Values::One(s) => f.debug_tuple("One").field(s).finish(),
            Values::Many(l) => f
                .debug_list()
                .entries((0..l.len()).map(|i| l.get(i)))
                .finish(),
        }
    }
}

/// A list of values a context can lend without copying.
pub trait ValueList {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> &str;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

macro_rules! value_list {
    ($($t:ty),*) => {$(
        impl ValueList for $t {
            fn len(&self) -> usize {
                <[_]>::len(self)
            }
            fn get(&self, i: usize) -> &str {
                AsRef::<str>::as_ref(&self[i])
            }
        }
    )*};
}

value_list!(
    [String],
    [&str],
    [Box<str>],
    [Cow<'_, str>],
    Vec<String>,
    Vec<&str>,
    Vec<Box<str>>,
    Vec<Cow<'_, str>>
);

/// An empty context: every key is absent.
impl Context for () {
    fn get(&self, _key: &Key<'_>) -> Option<Values<'_>> {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    One(String),
    Many(Vec<String>),
}

/// An owned context for `policy eval`, tests and tools: keys are matched case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapContext {
    entries: HashMap<String, Entry>,
}

impl MapContext {
    pub fn new() -> MapContext {
        MapContext::default()
    }

    /// Sets a single-valued key (replacing any earlier value).
    pub fn insert_one(&mut self, name: &str, value: impl Into<String>) {
        self.entries
            .insert(name.to_ascii_lowercase(), Entry::One(value.into()));
    }

    /// Sets a multivalued key (replacing any earlier value).
    pub fn insert_many<I, S>(&mut self, name: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.entries.insert(
            name.to_ascii_lowercase(),
            Entry::Many(values.into_iter().map(Into::into).collect()),
        );
    }

    /// Whether `name` (any case) has a value.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(&name.to_ascii_lowercase())
    }

    pub fn remove(&mut self, name: &str) {
        self.entries.remove(&name.to_ascii_lowercase());
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Context for MapContext {
    fn get(&self, key: &Key<'_>) -> Option<Values<'_>> {
        match self.entries.get(key.name)? {
            Entry::One(s) => Some(Values::One(s)),
            Entry::Many(v) => Some(Values::Many(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_context_matches_key_names_case_insensitively() {
        let mut ctx = MapContext::new();
        ctx.insert_one("aws:PrincipalTag/Team", "payments");
        ctx.insert_many("vpc-lattice-svcs:RequestQueryString/tag", ["a", "b"]);
        let key = Key::parse("aws:principaltag/team");
        assert!(matches!(ctx.get(&key), Some(Values::One("payments"))));
        let key = Key::parse("vpc-lattice-svcs:requestquerystring/tag");
        match ctx.get(&key) {
            Some(Values::Many(list)) => {
                assert_eq!(list.len(), 2);
                assert_eq!(list.get(1), "b");
            }
            other => panic!("{other:?}"),
        }
        assert!(ctx.get(&Key::parse("aws:sourceip")).is_none());
    }
}
