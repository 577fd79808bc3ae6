//! Parsing of the individual option values, each error naming its option and the fix.

use std::path::Path;

use http::{HeaderName, HeaderValue};

use super::super::error::LoadError;
use super::{SigningKey, Target};

/// The proxy's own duration syntax (`10s`, `500ms`, `1.5s`, `250us`, `1m30s`), so both
/// command lines read a duration alike.
pub use trellis::config::parse_duration;

pub(super) fn parse_url(url: &str, paths: &[String]) -> Result<Target, LoadError> {
    let err = |reason: &str| LoadError::Url {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url.parse().map_err(|_| err("it does not parse"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => {
            return Err(err(&format!(
                "scheme `{other}` is not supported, only `http` (plain HTTP/1.1 or h2c)"
            )))
        }
        None => return Err(err("it has no `http://` scheme")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| err("it has no host"))?
        .as_str()
        .to_owned();
    if authority.contains('@') {
        return Err(err("user info (`user@`) is not supported"));
    }
    let port = uri.port_u16().unwrap_or(80);
    let host = uri.host().unwrap_or_default();
    let connect = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let first = uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let paths = if paths.is_empty() {
        vec![first]
    } else {
        paths
            .iter()
            .map(|p| {
                if p.starts_with('/') && p.parse::<http::uri::PathAndQuery>().is_ok() {
                    Ok(p.clone())
                } else {
                    Err(LoadError::Option {
                        option: "paths",
                        reason: format!(
                            "`{p}` is not a request target; each path starts with `/`, e.g. `/a,/b?x=1`"
                        ),
                    })
                }
            })
            .collect::<Result<_, _>>()?
    };
    Ok(Target {
        url: url.to_owned(),
        authority,
        connect,
        paths,
    })
}

pub(super) fn parse_header(h: &str) -> Result<(HeaderName, HeaderValue), LoadError> {
    let bad = || LoadError::Option {
        option: "header",
        reason: format!("`{h}` is not `NAME: VALUE` with a valid header name and value"),
    };
    let (name, value) = h.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

/// An audience goes into a signed header: visible ASCII, no separators a header value or
/// a token's URL would have to escape, at most 128 bytes.
pub(super) fn parse_audience(a: &str) -> Result<String, LoadError> {
    let ok = !a.is_empty()
        && a.len() <= 128
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(a.to_owned())
    } else {
        Err(LoadError::Option {
            option: "sts-audience",
            reason: format!("`{a}` must be 1 to 128 letters, digits, `-`, `_`, `.` or `:`, e.g. `svc-0123456789abcdef0`"),
        })
    }
}

/// The region names STS's host `sts.<region>.amazonaws.com`: a DNS label.
pub(super) fn parse_region(r: &str) -> Result<(), LoadError> {
    let ok = !r.is_empty()
        && r.len() <= 63
        && !r.starts_with('-')
        && !r.ends_with('-')
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(LoadError::Option {
            option: "region",
            reason: format!("`{r}` is not a region; give e.g. `us-west-2` (STS is `sts.<region>.amazonaws.com`)"),
        })
    }
}

pub(super) fn parse_key(s: &str, separator: char, origin: &str) -> Result<SigningKey, LoadError> {
    let bad = || LoadError::Key {
        origin: origin.to_owned(),
    };
    let (id, secret) = s.trim().split_once(separator).ok_or_else(bad)?;
    let (id, secret) = (id.trim(), secret.trim());
    let valid = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic());
    if !valid(id) || !valid(secret) {
        return Err(bad());
    }
    Ok(SigningKey {
        access_key_id: id.to_owned(),
        secret: secret.to_owned(),
    })
}

pub(super) fn read_keys_file(path: &Path) -> Result<Vec<SigningKey>, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::KeysFile {
        path: path.to_owned(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(n, l)| {
            let l = l.trim();
            let sep = l
                .find(char::is_whitespace)
                .map_or(' ', |i| l[i..].chars().next().unwrap_or(' '));
            parse_key(
                l,
                sep,
                &format!("--keys-file `{}` line {}", path.display(), n + 1),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("10.0s"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("2").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("10 parsecs")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_duration("s").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn urls_give_the_connect_address_the_authority_and_the_first_path() {
        let t = parse_url("http://127.0.0.1:8080/a?b=1", &[]).unwrap();
        assert_eq!(t.connect, "127.0.0.1:8080");
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.paths, vec!["/a?b=1".to_owned()]);
        let t = parse_url("http://[::1]/", &["/x".into(), "/y?z".into()]).unwrap();
        assert_eq!(t.connect, "[::1]:80");
        assert_eq!(t.authority, "[::1]");
        assert_eq!(t.paths, vec!["/x".to_owned(), "/y?z".to_owned()]);
        assert!(parse_url("127.0.0.1:80/", &[]).is_err());
        assert!(parse_url("http://u@h/", &[]).is_err());
    }

    #[test]
    fn headers_split_at_the_first_colon() {
        let (n, v) = parse_header("X-Trace: a:b ").unwrap();
        assert_eq!((n.as_str(), v.to_str().unwrap()), ("x-trace", "a:b"));
        assert!(parse_header("bad name: v").is_err());
    }

    #[test]
    fn keys_files_hold_one_key_per_line_with_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(
            &path,
            "# load keys\nAKID1 secret/1\n\n  AKID2\tsecret+2  \n",
        )
        .unwrap();
        let keys = read_keys_file(&path).unwrap();
        let got: Vec<_> = keys
            .iter()
            .map(|k| (k.access_key_id.as_str(), k.secret.as_str()))
            .collect();
        assert_eq!(got, [("AKID1", "secret/1"), ("AKID2", "secret+2")]);
        std::fs::write(&path, "AKID1 s3cr3tvalue\nonly-an-id\n").unwrap();
        let err = read_keys_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(
            !err.contains("only-an-id") && !err.contains("s3cr3t"),
            "{err}"
        );
        let err = read_keys_file(&dir.path().join("absent"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read --keys-file"), "{err}");
    }

    #[test]
    fn an_audience_is_a_header_safe_id_and_a_region_a_host_label() {
        assert_eq!(
            parse_audience("svc-0123456789abcdef0").unwrap(),
            "svc-0123456789abcdef0"
        );
        for bad in ["", "svc 1", "svc;1", "svc/1", &"a".repeat(129)] {
            assert!(parse_audience(bad).is_err(), "{bad:?}");
        }
        assert!(parse_region("us-west-2").is_ok());
        assert!(parse_region("cn-north-1").is_ok());
        for bad in ["", "US-WEST-2", "us_west_2", "-us", "us.evil.com"] {
            let err = parse_region(bad).unwrap_err().to_string();
            assert!(err.contains("--region"), "{err}");
        }
    }

    #[test]
    fn signing_keys_never_show_their_secret() {
        let k = parse_key("AKID:hunter2", ':', "--key").unwrap();
        assert!(!format!("{k:?}").contains("hunter2"));
    }
}
