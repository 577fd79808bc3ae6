//! Condition keys: parsed once at compile time so that evaluation, and the proxy's context,
//! can find a value without building or comparing strings.

/// A condition key as compiled: `name` is the full key name lower-cased
/// (`aws:principaltag/team`); `kind` is its parsed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'k> {
    pub name: &'k str,
    pub kind: KeyKind<'k>,
}

/// The parsed form of a key, so a context can look values up in its own structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind<'k> {
    /// A fixed, known key.
    Global(GlobalKey),
    /// `aws:PrincipalTag/<tag>`, tag key lower-cased.
    PrincipalTag(&'k str),
    /// `vpc-lattice-svcs:RequestHeader/<name>`, header name lower-cased.
    RequestHeader(&'k str),
    /// `vpc-lattice-svcs:RequestQueryString/<name>`, parameter name lower-cased.
    RequestQueryString(&'k str),
    /// `aws:ResourceTag/<tag>`, tag key lower-cased.
    ResourceTag(&'k str),
    /// Any other key: look it up by `name`.
    Other,
}

/// What a key's value is, for validation (operator/type checks) and for the multivalued rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    String,
    Arn,
    Numeric,
    Date,
    Bool,
    Ip,
}

macro_rules! global_keys {
    ($($variant:ident => $spelling:literal, $ty:ident, $multi:literal;)*) => {
        /// Every fixed condition key Trellis knows (documented spelling in [`GlobalKey::spelling`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum GlobalKey { $($variant),* }

        impl GlobalKey {
            /// Every known key, in declaration order.
            pub const ALL: &'static [GlobalKey] = &[$(GlobalKey::$variant),*];

            /// The key as AWS documents it (`aws:SourceIp`).
            pub fn spelling(self) -> &'static str {
                match self { $(GlobalKey::$variant => $spelling),* }
            }

            pub(crate) fn value_type(self) -> ValueType {
                match self { $(GlobalKey::$variant => ValueType::$ty),* }
            }

            /// Whether the key is multivalued (SAR type `ArrayOf…`).
            pub fn is_multivalued(self) -> bool {
                match self { $(GlobalKey::$variant => $multi),* }
            }
        }
    };
}

global_keys! {
    PrincipalArn => "aws:PrincipalArn", Arn, false;
    PrincipalAccount => "aws:PrincipalAccount", String, false;
    PrincipalType => "aws:PrincipalType", String, false;
    PrincipalOrgId => "aws:PrincipalOrgID", String, false;
    PrincipalOrgPaths => "aws:PrincipalOrgPaths", String, true;
    PrincipalIsAwsService => "aws:PrincipalIsAWSService", Bool, false;
    PrincipalServiceName => "aws:PrincipalServiceName", String, false;
    PrincipalServiceNamesList => "aws:PrincipalServiceNamesList", String, true;
    Username => "aws:username", String, false;
    Userid => "aws:userid", String, false;
    SourceIp => "aws:SourceIp", Ip, false;
    SourceVpc => "aws:SourceVpc", String, false;
    SourceVpce => "aws:SourceVpce", String, false;
    VpcSourceIp => "aws:VpcSourceIp", Ip, false;
    CurrentTime => "aws:CurrentTime", Date, false;
    EpochTime => "aws:EpochTime", Numeric, false;
    SecureTransport => "aws:SecureTransport", Bool, false;
    MultiFactorAuthPresent => "aws:MultiFactorAuthPresent", Bool, false;
    TokenIssueTime => "aws:TokenIssueTime", Date, false;
    RequestedRegion => "aws:RequestedRegion", String, false;
    TagKeys => "aws:TagKeys", String, true;
    CalledVia => "aws:CalledVia", String, true;
    ResourceAccount => "aws:ResourceAccount", String, false;
    ResourceOrgId => "aws:ResourceOrgID", String, false;
    ResourceOrgPaths => "aws:ResourceOrgPaths", String, true;
    LatticePort => "vpc-lattice-svcs:Port", Numeric, false;
    LatticeRequestMethod => "vpc-lattice-svcs:RequestMethod", String, false;
    LatticeRequestPath => "vpc-lattice-svcs:RequestPath", String, false;
    LatticeServiceArn => "vpc-lattice-svcs:ServiceArn", Arn, false;
    LatticeServiceNetworkArn => "vpc-lattice-svcs:ServiceNetworkArn", Arn, false;
    LatticeSourceVpc => "vpc-lattice-svcs:SourceVpc", String, false;
    LatticeSourceVpcOwnerAccount => "vpc-lattice-svcs:SourceVpcOwnerAccount", String, false;
}

/// Prefixed key families: (documented prefix, constructor).
#[derive(Clone, Copy)]
enum Family {
    PrincipalTag,
    ResourceTag,
    RequestTag,
    RequestHeader,
    RequestQueryString,
}

const FAMILIES: &[(&str, Family)] = &[
    ("aws:PrincipalTag/", Family::PrincipalTag),
    ("aws:ResourceTag/", Family::ResourceTag),
    ("aws:RequestTag/", Family::RequestTag),
    ("vpc-lattice-svcs:RequestHeader/", Family::RequestHeader),
    (
        "vpc-lattice-svcs:RequestQueryString/",
        Family::RequestQueryString,
    ),
];

impl<'k> Key<'k> {
    /// Parses a key name that is already lower-cased.
    pub fn parse(lower: &'k str) -> Key<'k> {
        Key {
            name: lower,
            kind: kind_of(lower),
        }
    }

    /// Whether a context value for this key is a list (a set operator is needed).
    pub fn is_multivalued(&self) -> bool {
        match self.kind {
            KeyKind::Global(g) => g.is_multivalued(),
            KeyKind::RequestQueryString(_) => true,
            _ => false,
        }
    }

    pub(crate) fn value_type(&self) -> Option<ValueType> {
        match self.kind {
            KeyKind::Global(g) => Some(g.value_type()),
            KeyKind::Other => None,
            _ => Some(ValueType::String),
        }
    }
}

fn kind_of(lower: &str) -> KeyKind<'_> {
    for &g in GlobalKey::ALL {
        if g.spelling().eq_ignore_ascii_case(lower) {
            return KeyKind::Global(g);
        }
    }
    for &(prefix, family) in FAMILIES {
        if let Some(rest) = strip_prefix_fold(lower, prefix) {
            if !rest.is_empty() {
                return match family {
                    Family::PrincipalTag => KeyKind::PrincipalTag(rest),
                    Family::ResourceTag => KeyKind::ResourceTag(rest),
                    Family::RequestTag => KeyKind::Other,
                    Family::RequestHeader => KeyKind::RequestHeader(rest),
                    Family::RequestQueryString => KeyKind::RequestQueryString(rest),
                };
            }
        }
    }
    KeyKind::Other
}

fn strip_prefix_fold<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// The AWS global condition keys that Trellis never fills but IAM documents (the table of
/// "AWS global condition context keys" in the IAM User Guide), so that they are not reported as
/// typos. The ones Trellis fills are [`GlobalKey`]s; the tag families are in `FAMILIES`.
const OTHER_GLOBAL_KEYS: &[&str] = &[
    "aws:AssumedRoot",
    "aws:FederatedProvider",
    "aws:SignInSessionArn",
    "aws:MultiFactorAuthAge",
    "aws:ChatbotSourceArn",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:SourceIdentity",
    "aws:SourceVpcArn",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CalledViaAWSMCP",
    "aws:ViaAWSService",
    "aws:ViaAWSMCPService",
    "aws:referer",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:UserAgent",
    "aws:IsMcpServiceAction",
];

/// What validation needs to know about a key name as written.
pub(crate) enum Spelling {
    /// Written exactly as documented (or a key Trellis has no documentation for).
    Documented,
    /// A known key written with different case: the documented form.
    CaseDiffers(String),
    /// A `vpc-lattice-svcs:` key that Lattice does not define.
    UnknownLattice,
    /// An `aws:` key that is not a global condition key: the closest one that is.
    UnknownAws(String),
}

/// Levenshtein distance, for "did you mean".
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The documented `aws:` key closest to `written` (compared case-insensitively); for a
/// `prefix/suffix` key the closest family, with the suffix kept.
fn closest_aws_key(written: &str) -> String {
    let lower = written.to_ascii_lowercase();
    if let Some(slash) = lower.find('/') {
        let (head, rest) = written.split_at(slash + 1);
        let head = head.to_ascii_lowercase();
        if let Some((prefix, _)) = FAMILIES
            .iter()
            .filter(|(p, _)| p.starts_with("aws:"))
            .min_by_key(|(p, _)| edit_distance(&head, &p.to_ascii_lowercase()))
        {
            return format!("{prefix}{rest}");
        }
    }
    GlobalKey::ALL
        .iter()
        .map(|g| g.spelling())
        .filter(|k| k.starts_with("aws:"))
        .chain(OTHER_GLOBAL_KEYS.iter().copied())
        .min_by_key(|k| edit_distance(&lower, &k.to_ascii_lowercase()))
        .unwrap_or("aws:PrincipalArn")
        .to_owned()
}

/// Compares a key as written with the documented spelling.
pub(crate) fn spelling_of(written: &str) -> Spelling {
    for &g in GlobalKey::ALL {
        let doc = g.spelling();
        if doc.eq_ignore_ascii_case(written) {
            return if doc == written {
                Spelling::Documented
            } else {
                Spelling::CaseDiffers(doc.to_owned())
            };
        }
    }
    for (prefix, _) in FAMILIES {
        if let Some(rest) = strip_prefix_fold(written, prefix) {
            if rest.is_empty() {
                break;
            }
            return if written.starts_with(prefix) {
                Spelling::Documented
            } else {
                Spelling::CaseDiffers(format!("{prefix}{rest}"))
            };
        }
    }
    for &doc in OTHER_GLOBAL_KEYS {
        if doc.eq_ignore_ascii_case(written) {
            return if doc == written {
                Spelling::Documented
            } else {
                Spelling::CaseDiffers(doc.to_owned())
            };
        }
    }
    if strip_prefix_fold(written, "vpc-lattice-svcs:").is_some() {
        Spelling::UnknownLattice
    } else if strip_prefix_fold(written, "aws:").is_some() {
        Spelling::UnknownAws(closest_aws_key(written))
    } else {
        Spelling::Documented
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_parse_case_insensitively_into_kinds() {
        assert_eq!(
            Key::parse("aws:sourceip").kind,
            KeyKind::Global(GlobalKey::SourceIp)
        );
        assert_eq!(
            Key::parse("aws:principaltag/team").kind,
            KeyKind::PrincipalTag("team")
        );
        assert_eq!(
            Key::parse("vpc-lattice-svcs:requestheader/x-api-version").kind,
            KeyKind::RequestHeader("x-api-version")
        );
        assert_eq!(
            Key::parse("vpc-lattice-svcs:requestquerystring/tag").kind,
            KeyKind::RequestQueryString("tag")
        );
        assert_eq!(Key::parse("s3:prefix").kind, KeyKind::Other);
    }

    #[test]
    fn query_string_keys_and_org_paths_are_multivalued() {
        assert!(Key::parse("vpc-lattice-svcs:requestquerystring/tag").is_multivalued());
        assert!(Key::parse("aws:principalorgpaths").is_multivalued());
        assert!(!Key::parse("aws:principaltag/team").is_multivalued());
    }

    #[test]
    fn key_spelling_differing_from_the_docs_is_detected() {
        assert!(matches!(spelling_of("aws:SourceIp"), Spelling::Documented));
        assert!(
            matches!(spelling_of("vpc-lattice-svcs:requestmethod"), Spelling::CaseDiffers(d) if d == "vpc-lattice-svcs:RequestMethod")
        );
        assert!(matches!(
            spelling_of("vpc-lattice-svcs:Method"),
            Spelling::UnknownLattice
        ));
        assert!(
            matches!(spelling_of("vpc-lattice-svcs:requestheader/X-A"), Spelling::CaseDiffers(d) if d == "vpc-lattice-svcs:RequestHeader/X-A")
        );
    }

    #[test]
    fn an_unknown_aws_key_is_reported_with_the_closest_global_key() {
        assert!(
            matches!(spelling_of("aws:PrincpalOrgID"), Spelling::UnknownAws(k) if k == "aws:PrincipalOrgID")
        );
        assert!(
            matches!(spelling_of("aws:SourceIP4"), Spelling::UnknownAws(k) if k == "aws:SourceIp")
        );
        assert!(
            matches!(spelling_of("aws:PrincipleTag/team"), Spelling::UnknownAws(k) if k == "aws:PrincipalTag/team")
        );
        // Documented keys that Trellis never fills are not typos.
        for known in [
            "aws:SourceArn",
            "aws:ViaAWSService",
            "aws:referer",
            "aws:VpceOrgID",
        ] {
            assert!(
                matches!(spelling_of(known), Spelling::Documented),
                "{known}"
            );
        }
        assert!(
            matches!(spelling_of("aws:sourcearn"), Spelling::CaseDiffers(k) if k == "aws:SourceArn")
        );
        assert!(matches!(spelling_of("s3:prefix"), Spelling::Documented));
    }
}

/// An owned, compiled key: the lower-cased name and its parsed kind (suffixes kept as offsets
/// into the name), so [`KeyName::key`] is a couple of moves at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyName {
    name: Box<str>,
    kind: OwnedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnedKind {
    Global(GlobalKey),
    PrincipalTag(usize),
    RequestHeader(usize),
    RequestQueryString(usize),
    ResourceTag(usize),
    Other,
}

impl KeyName {
    pub(crate) fn new(written: &str) -> KeyName {
        let name: Box<str> = written.to_ascii_lowercase().into();
        let offset = |suffix: &str| name.len() - suffix.len();
        let kind = match Key::parse(&name).kind {
            KeyKind::Global(g) => OwnedKind::Global(g),
            KeyKind::PrincipalTag(s) => OwnedKind::PrincipalTag(offset(s)),
            KeyKind::RequestHeader(s) => OwnedKind::RequestHeader(offset(s)),
            KeyKind::RequestQueryString(s) => OwnedKind::RequestQueryString(offset(s)),
            KeyKind::ResourceTag(s) => OwnedKind::ResourceTag(offset(s)),
            KeyKind::Other => OwnedKind::Other,
        };
        KeyName { name, kind }
    }

    #[inline]
    pub(crate) fn key(&self) -> Key<'_> {
        let suffix = |at: usize| self.name.get(at..).unwrap_or("");
        let kind = match self.kind {
            OwnedKind::Global(g) => KeyKind::Global(g),
            OwnedKind::PrincipalTag(at) => KeyKind::PrincipalTag(suffix(at)),
            OwnedKind::RequestHeader(at) => KeyKind::RequestHeader(suffix(at)),
            OwnedKind::RequestQueryString(at) => KeyKind::RequestQueryString(suffix(at)),
            OwnedKind::ResourceTag(at) => KeyKind::ResourceTag(suffix(at)),
            OwnedKind::Other => KeyKind::Other,
        };
        Key {
            name: &self.name,
            kind,
        }
    }
}
