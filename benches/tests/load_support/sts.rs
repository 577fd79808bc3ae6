//! An independent reading of STS identity tokens: decodes `k8s-aws-v1.<base64url>`, checks the
//! presigned URL's parts one by one and recomputes its SigV4 signature from first principles
//! (canonical request, string to sign, HMAC chain), so a token the generator makes is checked
//! by other code than the aws-sigv4 that made it.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "each test binary uses only part of these shared helpers; a panic is a failed test"
)]

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub access_key_id: String,
    pub amz_date: String,
    pub url: String,
}

type HmacSha256 = hmac::Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding as SigV4's canonical query wants it: everything but unreserved.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The decoded query parameters of a URL, in order.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let (_, query) = url.split_once('?').unwrap_or((url, ""));
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

/// The URL inside an `Authorization` value `Bearer k8s-aws-v1.<base64url>`.
pub fn decode_authorization(value: &str) -> Result<String, String> {
    let token = value.strip_prefix("Bearer ").ok_or("not a bearer token")?;
    let body = token
        .strip_prefix("k8s-aws-v1.")
        .ok_or("no k8s-aws-v1. prefix")?;
    if body.contains('=') {
        return Err("padded base64".into());
    }
    let bytes = base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(body)
        .map_err(|e| format!("not unpadded base64url: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8".into())
}

/// Checks everything a server checks before it asks STS, and the signature for `secret_of`'s
/// key (which returns the secret of an access key id).
pub fn verify_token(
    authorization: &str,
    region: &str,
    audience: &str,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<VerifiedToken, String> {
    let url = decode_authorization(authorization)?;
    let host = format!("sts.{region}.amazonaws.com");
    let prefix = format!("https://{host}/?");
    if !url.starts_with(&prefix) {
        return Err(format!("`{url}` is not a query to {prefix}"));
    }
    let params = query_params(&url);
    let get = |k: &str| {
        let found: Vec<_> = params.iter().filter(|(n, _)| n == k).collect();
        match found.as_slice() {
            [(_, v)] => Ok(v.clone()),
            _ => Err(format!("`{k}` must appear exactly once in `{url}`")),
        }
    };
    let want = [
        ("Action", "GetCallerIdentity"),
        ("Version", "2011-06-15"),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Expires", "60"),
        ("X-Amz-SignedHeaders", "host;x-k8s-aws-id"),
    ];
    for (k, v) in want {
        if get(k)? != v {
            return Err(format!("`{k}` is `{}`, expected `{v}`", get(k)?));
        }
    }
    let allowed = [
        "Action",
        "Version",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ];
    if let Some((k, _)) = params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(format!("unexpected parameter `{k}`"));
    }
    let credential = get("X-Amz-Credential")?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [akid, date, cred_region, "sts", "aws4_request"] = parts.as_slice() else {
        return Err(format!(
            "credential `{credential}` is not AKID/DATE/REGION/sts/aws4_request"
        ));
    };
    if *cred_region != region {
        return Err(format!(
            "credential region `{cred_region}`, expected `{region}`"
        ));
    }
    let amz_date = get("X-Amz-Date")?;
    if !amz_date.starts_with(date) || amz_date.len() != 16 {
        return Err(format!(
            "`X-Amz-Date` `{amz_date}` does not match the scope date `{date}`"
        ));
    }
    let mut canonical: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    canonical.sort();
    let query = canonical
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let creq = format!(
        "GET\n/\n{query}\nhost:{host}\nx-k8s-aws-id:{audience}\n\nhost;x-k8s-aws-id\nUNSIGNED-PAYLOAD"
    );
    let scope = format!("{date}/{region}/sts/aws4_request");
    let sts = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(creq.as_bytes()))
    );
    let secret = secret_of(akid).ok_or_else(|| format!("unknown key `{akid}`"))?;
    let k = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, "sts");
    let k = hmac(&k, "aws4_request");
    let signature = hex(&hmac(&k, &sts));
    if signature != get("X-Amz-Signature")? {
        return Err("signature does not match".into());
    }
    Ok(VerifiedToken {
        access_key_id: (*akid).to_owned(),
        amz_date,
        url,
    })
}
