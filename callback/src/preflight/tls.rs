//! The TLS handshake a client makes with the deployment: TLS 1.2 or 1.3, a certificate chain
//! a public (or `--ca-file`) authority signed, valid for the host, and not about to expire.
//! Its own handshake rather than reqwest's, which neither names the protocol it agreed on nor
//! shows the certificate, and hides rustls's reason for a refusal behind its own message.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{AlertDescription, CertificateError, ClientConfig, ProtocolVersion, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::{Host, Url};
use x509_cert::der::Decode;

use super::{Check, Outcome, PreflightError};

/// A certificate must stay valid longer than this, so that a renewal that failed is noticed
/// before browsers and TikTok refuse the site (certbot renews 30 days ahead).
pub const MIN_DAYS_LEFT: i64 = 14;

/// The public authorities (Mozilla's list, as reqwest uses) plus those of `ca_file`; rustls
/// speaks TLS 1.2 and 1.3 only, so any handshake it completes is one of those.
pub(super) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, PreflightError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let ca_error = |message: String| {
            PreflightError::CaFile {
            path: path.to_path_buf(),
            message,
            help: "give a PEM file with the certificate of the authority that signed the site's certificate (-----BEGIN CERTIFICATE-----)".into(),
        }
        };
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ca_error(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_error("no certificate in the file".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| ca_error(format!("not a usable CA certificate: {e}")))?;
        }
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(PreflightError::Tls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The handshake with `url`'s host and port, judged.
pub(super) async fn check(
    name: &'static str,
    url: &Url,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Check {
    if url.scheme() != "https" {
        return Check::fail(
            name,
            format!("{url} is not https"),
            "serve it over https (deploy/nginx.conf) and write its https address in config.toml",
        );
    }
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Check::fail(
            name,
            format!("{url} names no host"),
            "write a full https URL",
        );
    };
    let (dial, server_name) = match host {
        Host::Domain(d) => (d.to_string(), ServerName::try_from(d.to_string())),
        Host::Ipv4(a) => (a.to_string(), Ok(ServerName::from(std::net::IpAddr::V4(a)))),
        Host::Ipv6(a) => (a.to_string(), Ok(ServerName::from(std::net::IpAddr::V6(a)))),
    };
    let Ok(server_name) = server_name else {
        return Check::fail(
            name,
            format!("`{dial}` is not a valid host name"),
            "write a valid host name",
        );
    };
    let handshake = async {
        let tcp = TcpStream::connect((dial.as_str(), port)).await?;
        TlsConnector::from(config).connect(server_name, tcp).await
    };
    let stream = match tokio::time::timeout(timeout, handshake).await {
        Err(_) => {
            return Check::fail(
                name,
                format!(
                    "no TLS handshake with {dial}:{port} within {}s",
                    timeout.as_secs()
                ),
                "check that the host resolves to this server and that port is open to the internet",
            );
        }
        Ok(Err(e)) => return refused(name, &dial, port, &e),
        Ok(Ok(stream)) => stream,
    };
    let conn = stream.get_ref().1;
    let version = conn.protocol_version();
    let not_after = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|der| x509_cert::Certificate::from_der(der.as_ref()).ok())
        .map(|cert| {
            cert.tbs_certificate
                .validity
                .not_after
                .to_unix_duration()
                .as_secs() as i64
        });
    let Some(not_after) = not_after else {
        return Check::fail(
            name,
            "the server's certificate could not be read",
            "install a standard X.509 certificate (certbot's fullchain.pem)",
        );
    };
    Check {
        name,
        outcome: certificate_outcome(&dial, version, not_after, mdz::dates::now_secs()),
    }
}

/// The verdict on a completed handshake: the protocol agreed on, and the leaf certificate's
/// end of validity (`not_after`, Unix seconds) seen at `now`.
pub fn certificate_outcome(
    host: &str,
    version: Option<ProtocolVersion>,
    not_after: i64,
    now: i64,
) -> Outcome {
    let protocol = match version {
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2",
        other => {
            return Outcome::Fail {
                problem: format!("the connection uses {other:?}, older than TLS 1.2"),
                what_to_do:
                    "set `ssl_protocols TLSv1.2 TLSv1.3;` in the server block (deploy/nginx.conf)"
                        .into(),
            };
        }
    };
    let left = not_after - now;
    let days = left.div_euclid(86_400);
    let (y, m, d) = mdz::dates::civil_from_days(not_after.div_euclid(86_400));
    let until = format!("{y:04}-{m:02}-{d:02}");
    if left <= MIN_DAYS_LEFT * 86_400 {
        Outcome::Fail {
            problem: format!(
                "{protocol}, but the certificate for {host} expires on {until}, in {days} days (it must stay valid for more than {MIN_DAYS_LEFT})"
            ),
            what_to_do: "renew it now (`certbot renew`, then `systemctl reload nginx`) and find out why the automatic renewal did not (`systemctl list-timers certbot`)".into(),
        }
    } else {
        Outcome::Pass(format!(
            "{protocol}, certificate valid for {host} until {until} ({days} days)"
        ))
    }
}

/// Why the handshake did not complete, and what fixes it.
fn refused(name: &'static str, host: &str, port: u16, e: &std::io::Error) -> Check {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let Some(tls) = tls else {
        return Check::fail(
            name,
            format!("cannot connect to {host}:{port}: {e}"),
            "check that the host resolves to this server, nginx runs, and the port is open to the internet",
        );
    };
    let (problem, what_to_do) = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
                format!("the certificate is not valid for {host}"),
                format!("get a certificate that names {host} (`certbot certonly --nginx -d {host}`) and point ssl_certificate at it"),
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                "the certificate has expired".into(),
                "renew it (`certbot renew`, then `systemctl reload nginx`)".into(),
            ),
            CertificateError::UnknownIssuer => (
                "the certificate is not signed by an authority clients trust, or nginx does not send the intermediate certificate".into(),
                "point ssl_certificate at certbot's fullchain.pem (not cert.pem); for a private CA, pass its certificate with --ca-file".into(),
            ),
            other => (
                format!("the certificate is refused: {other}"),
                "install a certificate from a public authority for this host (certbot)".into(),
            ),
        },
        rustls::Error::PeerIncompatible(_)
        | rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion | AlertDescription::HandshakeFailure,
        ) => (
            format!("the server offers neither TLS 1.2 nor TLS 1.3 with a current cipher suite ({tls})"),
            "set `ssl_protocols TLSv1.2 TLSv1.3;` and the ssl_ciphers of deploy/nginx.conf in the server block".into(),
        ),
        other => (
            format!("the TLS handshake failed: {other}"),
            "compare the server block's ssl_* settings with deploy/nginx.conf".into(),
        ),
    };
    Check::fail(name, problem, what_to_do)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    // 2026-12-02T00:00:00Z
    const NOW: i64 = 1_796_169_600;

    fn problem(o: &Outcome) -> &str {
        match o {
            Outcome::Fail { problem, .. } => problem,
            other => panic!("not a failure: {other:?}"),
        }
    }

    #[test]
    fn a_certificate_must_outlive_the_next_fourteen_days() {
        let v = Some(ProtocolVersion::TLSv1_3);
        assert_eq!(
            certificate_outcome("example.com", v, NOW + 60 * DAY, NOW),
            Outcome::Pass(
                "TLS 1.3, certificate valid for example.com until 2027-01-31 (60 days)".into()
            )
        );
        assert!(matches!(
            certificate_outcome("example.com", v, NOW + 14 * DAY + 1, NOW),
            Outcome::Pass(_)
        ));
        let p = certificate_outcome("example.com", v, NOW + 14 * DAY, NOW);
        assert!(
            problem(&p).contains("expires on 2026-12-16, in 14 days"),
            "{p:?}"
        );
        let p = certificate_outcome("example.com", v, NOW + 10 * DAY, NOW);
        assert!(problem(&p).contains("in 10 days"), "{p:?}");
    }

    #[test]
    fn only_tls_1_2_and_1_3_pass() {
        let later = NOW + 90 * DAY;
        assert!(matches!(
            certificate_outcome("h", Some(ProtocolVersion::TLSv1_2), later, NOW),
            Outcome::Pass(ref s) if s.starts_with("TLS 1.2,")
        ));
        for old in [ProtocolVersion::TLSv1_1, ProtocolVersion::TLSv1_0] {
            let p = certificate_outcome("h", Some(old), later, NOW);
            assert!(problem(&p).contains("older than TLS 1.2"), "{p:?}");
        }
        let p = certificate_outcome("h", None, later, NOW);
        assert!(problem(&p).contains("older than TLS 1.2"), "{p:?}");
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = client_config(Some(&path)).unwrap_err().to_string();
        assert!(e.contains("ca.pem") && e.contains("no certificate"), "{e}");
        let e = client_config(Some(&dir.path().join("missing.pem")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.pem"), "{e}");
        assert!(client_config(None).is_ok());
    }
}
