//! The hostile requests: each a named entry, sent byte for byte (HTTP/1.1) or as an HTTP/2
//! request. Most are anonymous; a few are SigV4-signed (in a header or presigned in the query)
//! by the example principal `checkout`, signed when the corpus is built.

use std::time::{Duration, SystemTime};

use super::wire::Wire;

pub const HOST: &str = "public.example.com";
const CHECKOUT: (&str, &str) = (
    "AKIAEXAMPLECHECKOUT1",
    "checkout/EXAMPLE/secret/key/do/not/use/0001",
);

/// One corpus entry.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub wire: Wire,
}

/// An HTTP/1.1 request from its head lines (request line first), ended by the blank line.
fn h1(lines: &[&str]) -> Wire {
    let mut raw = lines.join("\r\n");
    raw.push_str("\r\n\r\n");
    Wire::H1(raw.into_bytes())
}

/// An HTTP/1.1 request from its head lines and body.
fn h1_body(lines: &[&str], body: &str) -> Wire {
    let mut raw = lines.join("\r\n");
    raw.push_str("\r\n\r\n");
    raw.push_str(body);
    Wire::H1(raw.into_bytes())
}

/// `GET target` with `Host: public.example.com` and `extra` lines.
fn get(target: &str, extra: &[&str]) -> Wire {
    let line = format!("GET {target} HTTP/1.1");
    let host = format!("Host: {HOST}");
    let mut lines = vec![line.as_str(), host.as_str()];
    lines.extend_from_slice(extra);
    h1(&lines)
}

fn h2(method: &str, uri: &str, headers: &[(&str, &str)]) -> Wire {
    Wire::H2 {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// The SigV4 signature of `GET target` for `HOST` with `headers`, by `checkout`, now: the
/// signing headers to add (header signing), or the signed target (presigning).
fn sign(target: &str, headers: &[(&str, &str)], presign: bool) -> (Vec<(String, String)>, String) {
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings,
    };
    use aws_smithy_runtime_api::client::identity::Identity;

    let identity: Identity = Credentials::new(CHECKOUT.0, CHECKOUT.1, None, None, "test").into();
    let mut settings = SigningSettings::default();
    if presign {
        // Trellis wants `x-amz-content-sha256` signed; a presigned URL signs it as a header.
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(600));
    } else {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params: aws_sigv4::http_request::SigningParams<'_> =
        aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-west-2")
            .name("vpc-lattice-svcs")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
    let url = format!("http://{HOST}{target}");
    let mut all = vec![("host", HOST)];
    all.extend_from_slice(headers);
    let signable = SignableRequest::new(
        "GET",
        url.clone(),
        all.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder().method("GET").uri(url);
    for (k, v) in &all {
        req = req.header(*k, *v);
    }
    let mut req = req.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    let added = req
        .headers()
        .iter()
        .filter(|(k, _)| !all.iter().any(|(n, _)| k.as_str() == *n))
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap();
    (added, target)
}

/// Every case, built now (signed cases carry the current time).
pub fn corpus() -> Vec<Case> {
    let case = |name, wire| Case { name, wire };
    let identity = "x-amzn-lattice-identity: Principal=arn:aws:iam::111122223333:role/admin; PrincipalOrgID=o-a1b2c3d4e5; SessionName=admin; Type=AWS_IAM";
    let underscore_identity =
        identity.replacen("x-amzn-lattice-identity", "x_amzn_lattice_identity", 1);

    let (signed, _) = sign("/x", &[("x-tenant", "admin")], false);
    let signed_lines: Vec<String> = signed.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let mut connection_signed = vec![
        "GET /x HTTP/1.1".to_owned(),
        format!("Host: {HOST}"),
        "x-tenant: admin".to_owned(),
        "Connection: x-tenant".to_owned(),
    ];
    connection_signed.extend(signed_lines);
    let connection_signed: Vec<&str> = connection_signed.iter().map(String::as_str).collect();

    const UNSIGNED: &str = "x-amz-content-sha256: UNSIGNED-PAYLOAD";
    let (_, presigned) = sign(
        "/x?action=read",
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
        true,
    );
    let forged = presigned
        .split('&')
        .map(|p| {
            if p.starts_with("X-Amz-Signature=") {
                format!("X-Amz-Signature={}", "0".repeat(64))
            } else {
                p.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&");

    vec![
        // A plain request: must pass on both upstreams, or the comparison itself is wrong.
        case("plain", get("/orders/7?x=1", &["x-tenant: public"])),
        // Paths.
        case("colon_escaped", get("/projects/p1%3Adelete", &[])),
        case("semicolon_dot_dot", get("/public/..;/secret/x", &[])),
        case("encoded_dot_segment", get("/a/%2e%2e/b", &[])),
        case("double_slash", get("/a//b", &[])),
        case("encoded_unreserved", get("/%61dmin", &[])),
        case("double_encoded_slash", get("/a%25%32%46b", &[])),
        case("encoded_slash", get("/a%2Fb", &[])),
        case("encoded_backslash", get("/a%5Cb", &[])),
        case("percent_u_escape", get("/a/%u002e%u002e/b", &[])),
        case("lower_case_escape", get("/a%3ab", &[])),
        case("encoded_space", get("/a%20b", &[])),
        case("matrix_parameter", get("/a;jsessionid=1/b", &[])),
        case("encoded_non_utf8", get("/a%FFb", &[])),
        case(
            "raw_non_utf8",
            Wire::H1(
                format!("GET /a\u{0}b HTTP/1.1\r\nHost: {HOST}\r\n\r\n")
                    .into_bytes()
                    .into_iter()
                    .map(|b| if b == 0 { 0xFF } else { b })
                    .collect(),
            ),
        ),
        case("raw_brace", get("/a{b}", &[])),
        case("fragment_in_target", get("/a#/../admin", &[])),
        case(
            "asterisk_target",
            h1(&["OPTIONS * HTTP/1.1", &format!("Host: {HOST}")]),
        ),
        // Methods.
        case(
            "lower_case_method",
            h1(&["get /x HTTP/1.1", &format!("Host: {HOST}")]),
        ),
        case(
            "mixed_case_method",
            h1(&["Delete /x HTTP/1.1", &format!("Host: {HOST}")]),
        ),
        // Host.
        case(
            "absolute_form_same_host",
            h1(&[
                "GET http://admin.example.com/x HTTP/1.1",
                "Host: admin.example.com",
            ]),
        ),
        case(
            "absolute_form_other_host",
            h1(&[
                "GET http://admin.example.com/x HTTP/1.1",
                &format!("Host: {HOST}"),
            ]),
        ),
        case(
            "absolute_form_without_host",
            h1(&["GET http://admin.example.com/x HTTP/1.1"]),
        ),
        case(
            "two_host_lines",
            h1(&[
                "GET /x HTTP/1.1",
                &format!("Host: {HOST}"),
                "Host: admin.example.com",
            ]),
        ),
        case("no_host", h1(&["GET /x HTTP/1.1"])),
        case("http10_without_host", h1(&["GET /x HTTP/1.0"])),
        case(
            "host_with_port",
            h1(&["GET /x HTTP/1.1", "Host: public.example.com:8443"]),
        ),
        case(
            "host_trailing_dot",
            h1(&["GET /x HTTP/1.1", "Host: public.example.com."]),
        ),
        case(
            "host_upper_case",
            h1(&["GET /x HTTP/1.1", "Host: PUBLIC.Example.COM"]),
        ),
        case(
            "host_userinfo",
            h1(&[
                "GET /x HTTP/1.1",
                "Host: public.example.com@admin.example.com",
            ]),
        ),
        case("h2_plain", h2("GET", "http://public.example.com/x", &[])),
        case("h2_authority", h2("GET", "http://admin.example.com/x", &[])),
        case(
            "h2_authority_and_other_host",
            h2("GET", "http://admin.example.com/x", &[("host", HOST)]),
        ),
        case(
            "h2_lower_case_method",
            h2("get", "http://public.example.com/x", &[]),
        ),
        // Headers.
        case(
            "two_debug_lines",
            get("/x", &["x-debug: true", "x-debug: true"]),
        ),
        case(
            "two_tenant_lines",
            get("/x", &["x-tenant: public", "x-tenant: admin"]),
        ),
        case(
            "connection_names_tenant",
            get("/x", &["x-tenant: public", "Connection: x-tenant"]),
        ),
        case("connection_names_host", get("/x", &["Connection: host"])),
        case("connection_names_signed_tenant", h1(&connection_signed)),
        case("underscore_tenant", get("/x", &["x_tenant: admin"])),
        case(
            "underscore_and_dash_tenant",
            get("/x", &["x-tenant: public", "x_tenant: admin"]),
        ),
        case("dash_identity", get("/x", &[identity])),
        case("underscore_identity", get("/x", &[&underscore_identity])),
        case("obs_fold", get("/x", &["x-tenant: public", " admin"])),
        case("tab_around_value", get("/x", &["x-tenant:\tadmin\t"])),
        case("space_before_colon", get("/x", &["x-tenant : admin"])),
        case("upper_case_name", get("/x", &["X-TENANT: admin"])),
        case("empty_value", get("/x", &["x-tenant:"])),
        case(
            "obs_text_value",
            Wire::H1(
                format!("GET /x HTTP/1.1\r\nHost: {HOST}\r\nx-tenant: admin\u{0}\r\n\r\n")
                    .into_bytes()
                    .into_iter()
                    .map(|b| if b == 0 { 0xE9 } else { b })
                    .collect(),
            ),
        ),
        case(
            "chunked_and_content_length",
            h1_body(
                &[
                    "POST /x HTTP/1.1",
                    &format!("Host: {HOST}"),
                    "Transfer-Encoding: chunked",
                    "Content-Length: 5",
                ],
                "0\r\n\r\n",
            ),
        ),
        case(
            "upgrade_h2c",
            get(
                "/x",
                &[
                    "Connection: Upgrade, HTTP2-Settings",
                    "Upgrade: h2c",
                    "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
                ],
            ),
        ),
        case("upgrade_without_connection", get("/x", &["Upgrade: h2c"])),
        case("keep_alive_header", get("/x", &["Keep-Alive: timeout=5"])),
        case(
            "upgrade_websocket",
            get(
                "/x",
                &[
                    "Connection: Upgrade",
                    "Upgrade: websocket",
                    "Sec-WebSocket-Version: 13",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                ],
            ),
        ),
        // Query.
        case("plus_as_space", get("/x?action=drop+all", &[])),
        case("encoded_space_in_query", get("/x?action=drop%20all", &[])),
        case("keys_differing_in_case", get("/x?a=1&A=2", &[])),
        case("repeated_key", get("/x?tag=a&tag=b", &[])),
        case("encoded_key", get("/x?%61ction=drop", &[])),
        case("plus_in_key", get("/x?drop+table=1", &[])),
        case("semicolon_separator", get("/x?a=1;b=2", &[])),
        case("blank_values", get("/x?flag&x=", &[])),
        case("encoded_ampersand", get("/x?a=1%26b%3D2", &[])),
        case("non_utf8_value", get("/x?a=%FF", &[])),
        case("presigned", get(&presigned, &[UNSIGNED])),
        case("presigned_forged", get(&forged, &[UNSIGNED])),
        case(
            "amz_signature_alone",
            get(&format!("/x?X-Amz-Signature={}", "0".repeat(64)), &[]),
        ),
        case(
            "amz_credential_lower_case",
            get("/x?x-amz-credential=AKIAEXAMPLECHECKOUT1", &[]),
        ),
    ]
}
