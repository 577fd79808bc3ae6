use super::*;

fn cert_until(year: i32, month: u8, day: u8, names: &[&str]) -> (String, String) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    params.not_after = rcgen::date_time_ymd(year, month, day);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn write_pair(dir: &Path, pair: &(String, String)) -> (PathBuf, PathBuf) {
    let (c, k) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&c, &pair.0).unwrap();
    std::fs::write(&k, &pair.1).unwrap();
    (c, k)
}

#[test]
fn not_after_reads_utc_and_generalized_times() {
    // UTCTime up to 2049, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5).
    for (year, expected) in [(2031, 1_924_992_000), (2051, 2_556_144_000)] {
        let (pem, _) = cert_until(year, 1, 1, &["localhost"]);
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(not_after(&der), Ok(expected), "{year}");
    }
}

#[test]
fn not_after_refuses_what_is_not_a_certificate() {
    assert!(not_after(b"").is_err());
    assert!(not_after(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    let (pem, _) = cert_until(2031, 1, 1, &["localhost"]);
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert!(not_after(&der[..der.len() - 1]).is_err());
}

#[test]
fn a_reloaded_pair_replaces_the_one_in_force_and_a_bad_one_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let (c, k) = write_pair(dir.path(), &cert_until(2031, 1, 1, &["localhost"]));
    let cert = ReloadableCert::load(&c, &k).unwrap();
    assert_eq!(cert.not_after(), 1_924_992_000);
    let first = Arc::clone(&cert.current.load().key);

    write_pair(dir.path(), &cert_until(2032, 1, 1, &["localhost"]));
    cert.reload().unwrap();
    assert_eq!(cert.not_after(), 1_956_528_000);
    assert_ne!(cert.current.load().key.cert, first.cert);

    // A key of another certificate: refused, the pair in force stays.
    let other = cert_until(2033, 1, 1, &["localhost"]);
    std::fs::write(&k, &other.1).unwrap();
    let e = cert.reload().unwrap_err();
    assert!(matches!(e, TlsSetupError::Rustls(_)), "{e}");
    assert_eq!(cert.not_after(), 1_956_528_000);
    std::fs::write(&c, "not pem").unwrap();
    assert!(matches!(
        cert.reload().unwrap_err(),
        TlsSetupError::Pem {
            what: "certificate",
            ..
        }
    ));
    assert_eq!(cert.not_after(), 1_956_528_000);
}

#[test]
fn a_mismatched_pair_does_not_load_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (c, k) = write_pair(dir.path(), &cert_until(2031, 1, 1, &["localhost"]));
    std::fs::write(&k, cert_until(2031, 1, 1, &["localhost"]).1).unwrap();
    assert!(ReloadableCert::load(&c, &k).is_err());
}
