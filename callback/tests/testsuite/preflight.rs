//! `mdz-callback preflight`, the real binary, against the site as deployed: Debian's nginx with
//! deploy/nginx.conf (tests/nginx.rs makes it runnable on loopback) serving a copy of public/
//! over TLS with a certificate from a private CA (`--ca-file`), in front of the real
//! `mdz-callback serve`. The deployment as shipped passes every check; a broken one (pages
//! missing or redirected, the home page's link, the scopes on the privacy page, a stale
//! verification file sent as a download, another redirect URI, no webhook route, a dropped
//! header, a certificate expiring in 10 days), the same site over plain http with a verification
//! file name nginx does not serve as one, an untrusted certificate, a certificate for another
//! host and a server offering only TLS 1.0 and 1.1 each make their checks fail, with the exit
//! status non-zero.
//!
//! nginx and openssl are required (scripts/test installs them); this test never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::SITE;
use crate::common::child::{Service, free_port, run};
use crate::nginx::{KEY_HEX, Nginx, Ports, repo, site_config, swap};

const VERIFICATION_FILE: &str = "tiktokPreflight42.txt";
const VERIFICATION: &str = "tiktok-developers-site-verification=Preflight42";
/// The names the test's certificates are for.
const LOCAL: &str = "DNS:localhost,IP:127.0.0.1";

/// `openssl` with `args` (split at spaces) in `dir`.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

/// A private certificate authority in `dir`: `ca.pem` (what `--ca-file` gets) and its key.
fn private_ca(dir: &Path) -> PathBuf {
    openssl(
        dir,
        &format!(
            "req -x509 {EC_KEY} -subj /CN=mdz-preflight-test-CA -days 30 -keyout ca.key -out ca.pem \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
    dir.join("ca.pem")
}

/// A server certificate for `names` (a subjectAltName value) from the CA in `ca_dir`, valid
/// for `days`, as certbot names its files (deploy/nginx.conf expects them) in `tls`, over the
/// throwaway certificate nginx.rs puts there.
fn install_certificate(ca_dir: &Path, tls: &Path, names: &str, days: u32) {
    std::fs::create_dir_all(tls).unwrap();
    std::fs::write(
        tls.join("ext.cnf"),
        format!(
            "subjectAltName={names}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    openssl(
        tls,
        &format!("req -new {EC_KEY} -subj /CN=preflight -keyout privkey.pem -out leaf.csr"),
    );
    let ca = ca_dir.display();
    openssl(
        tls,
        &format!(
            "x509 -req -in leaf.csr -CA {ca}/ca.pem -CAkey {ca}/ca.key -set_serial {days} \
             -days {days} -extfile ext.cnf -out fullchain.pem"
        ),
    );
    std::fs::copy(ca_dir.join("ca.pem"), tls.join("chain.pem")).unwrap();
}

/// public/ copied to `dir/public`, with the verification file holding `verification`.
fn publish(dir: &Path, verification: &str) -> PathBuf {
    let to = dir.join("public");
    let out = Command::new("cp")
        .arg("-r")
        .arg(repo().join("public"))
        .arg(&to)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(to.join(VERIFICATION_FILE), verification).unwrap();
    to
}

/// Replaces `from` in the file at `rel` (which must hold it) and drops its gzip twin, which
/// nginx would otherwise send unchanged to a client accepting gzip.
fn edit(public: &Path, rel: &str, from: &str, to: &str) {
    let path = public.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, swap(&text, from, to)).unwrap();
    let _ = std::fs::remove_file(public.join(format!("{rel}.gz")));
}

/// deploy/nginx.conf for `ports`, serving `public` and proxying to `callback_port`.
fn deployment(dir: &Path, ports: Ports, callback_port: u16, public: &Path) -> String {
    let site = site_config(ports, callback_port, dir, None);
    swap(
        &site,
        repo().join("public").to_str().unwrap(),
        public.to_str().unwrap(),
    )
}

/// The line of `name` in preflight's checklist: its verdict (PASS, FAIL, SKIP) and the rest,
/// with the "what to do" line under a failure.
fn line<'a>(out: &'a str, name: &str) -> (&'a str, String) {
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        let (verdict, rest) = l.split_at(l.len().min(6));
        if let Some(text) = rest.strip_prefix(&format!("{name}: ")) {
            let mut text = text.to_string();
            if verdict == "FAIL  " {
                let todo = lines.next().unwrap_or_default();
                assert!(todo.starts_with("      what to do: "), "{out}");
                text.push('\n');
                text.push_str(todo);
            }
            return (verdict.trim_end(), text);
        }
    }
    panic!("no `{name}` line in:\n{out}")
}

const CHECKS: [&str; 10] = [
    "TLS",
    "home page",
    "privacy page",
    "terms page",
    "support page",
    "scopes on the privacy page",
    "verification file",
    "redirect URI",
    "webhook",
    "security headers",
];

#[tokio::test]
async fn preflight_passes_the_deployment_as_shipped_and_fails_each_check_on_a_broken_one() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (ca_dir, good_dir, broken_dir) = (
        dir.path().join("ca"),
        dir.path().join("good"),
        dir.path().join("broken"),
    );
    for d in [&ca_dir, &good_dir, &broken_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let ca = private_ca(&ca_dir);
    let ca = ca.to_str().unwrap();
    let callback_port = free_port();

    // The deployment as shipped.
    let good = Ports::free();
    let public = publish(&good_dir, VERIFICATION);
    let site = deployment(&good_dir, good, callback_port, &public);
    install_certificate(&ca_dir, &good_dir.join("tls"), LOCAL, 90);
    let mut good_nginx = Nginx::start(&good_dir, &site, good);

    // The broken one, in front of the same service.
    let broken = Ports::free();
    let public = publish(&broken_dir, "tiktok-developers-site-verification=Stale99");
    std::fs::remove_dir_all(public.join("support")).unwrap();
    edit(&public, "index.html", "href=/terms/", "href=/terms");
    edit(
        &public,
        "privacy/index.html",
        "</article>",
        "<p>Statistics come from user.info.stats.</p></article>",
    );
    let site = deployment(&broken_dir, broken, callback_port, &public);
    let site: String = site
        .lines()
        .filter(|l| !l.contains("location = /tiktok/webhook"))
        .map(|l| {
            if l.contains("location = /healthz") {
                swap(
                    l,
                    "proxy_pass",
                    "proxy_hide_header X-Frame-Options; proxy_pass",
                )
            } else {
                l.to_string()
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let site = swap(
        &site,
        "    absolute_redirect off;\n",
        "    absolute_redirect off;\n    location = /terms/ { return 302 /terms/index.html; }\n",
    );
    // Sent as a download rather than text.
    let site = swap(
        &site,
        "        default_type text/plain;\n    }\n    location = /.well-known/security.txt",
        "        types { } default_type application/octet-stream;\n    }\n    location = /.well-known/security.txt",
    );
    install_certificate(&ca_dir, &broken_dir.join("tls"), LOCAL, 10);
    // Two more https servers: one still on TLS 1.0 and 1.1 only, one whose certificate names
    // another host.
    let (old_tls, other_host) = (free_port(), free_port());
    let other = broken_dir.join("other");
    install_certificate(&ca_dir, &other, "DNS:example.invalid", 90);
    let server = |port: u16, tls: &Path, protocols: &str| {
        format!(
            "server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {t}/fullchain.pem;\n    ssl_certificate_key {t}/privkey.pem;\n    {protocols}\n    return 200 \"ok\\n\";\n}}\n",
            t = tls.display()
        )
    };
    let site = format!(
        "{site}\n{}{}",
        server(
            old_tls,
            &broken_dir.join("tls"),
            "ssl_protocols TLSv1 TLSv1.1; ssl_ciphers DEFAULT:@SECLEVEL=0;"
        ),
        server(other_host, &other, "ssl_protocols TLSv1.2 TLSv1.3;"),
    );
    let mut broken_nginx = Nginx::start(&broken_dir, &site, broken);

    // The operator's settings; the addresses come from the environment, as on a server.
    std::fs::write(
        good_dir.join("config.toml"),
        format!(
            "{SITE}[tiktok]\nverification_file = \"{VERIFICATION_FILE}\"\nverification_content = \"{VERIFICATION}\"\n[callback]\ndata_dir = \"data\"\nreal_ip_header = \"X-Real-IP\"\n"
        ),
    )
    .unwrap();
    let origin = format!("https://localhost:{}", good.tls);
    let addresses = |site: &str, public: &str| {
        vec![
            ("MDZ_SITE_BASE_URL".to_string(), format!("{site}/")),
            ("MDZ_CALLBACK_PUBLIC_URL".to_string(), public.to_string()),
        ]
    };
    let mut env = addresses(&origin, &origin);
    env.extend(
        [
            ("TIKTOK_CLIENT_KEY", "preflight-client-key"),
            ("TIKTOK_CLIENT_SECRET", "preflight-client-secret"),
            ("MDZ_TOKEN_KEY", KEY_HEX),
            // Never contacted: a sign-in is only started, and nothing else calls TikTok.
            (
                "MDZ_TIKTOK_AUTH_URL",
                "http://127.0.0.1:9/v2/auth/authorize/",
            ),
            ("MDZ_TIKTOK_API_BASE", "http://127.0.0.1:9"),
            ("MDZ_CALLBACK_LISTEN", &format!("127.0.0.1:{callback_port}")),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let service = Service::start(
        &good_dir,
        &env,
        &format!("http://127.0.0.1:{}/healthz", good.plain),
    )
    .await;
    // Preflight needs no secret: it gets only the addresses.
    let preflight = |args: &[&str], env: &[(String, String)]| {
        let mut all = vec!["preflight", "--timeout", "5"];
        all.extend_from_slice(args);
        run(&good_dir, &all, env)
    };

    // As shipped: every check passes.
    let (code, out, err) = preflight(&["--ca-file", ca], &addresses(&origin, &origin));
    assert_eq!(code, 0, "{out}{err}");
    for name in CHECKS {
        assert_eq!(line(&out, name).0, "PASS", "{name}:\n{out}");
    }
    assert!(
        out.ends_with("10 checks: 10 passed, 0 failed, 0 skipped\n"),
        "{out}"
    );
    let (_, tls_line) = line(&out, "TLS");
    assert!(
        tls_line.starts_with("TLS 1.3, certificate valid for localhost until"),
        "{out}"
    );
    assert!(
        tls_line.contains("(89 days)") || tls_line.contains("(90 days)"),
        "{out}"
    );
    let (_, redirect) = line(&out, "redirect URI");
    assert!(
        redirect.starts_with(&format!(
            "{origin}/auth/tiktok/callback is what the service sends"
        )),
        "{out}"
    );
    assert!(
        !out.contains("state=") && !out.contains("code_challenge"),
        "{out}"
    );

    // Broken: every check fails but the privacy page's own, which must answer for its scopes
    // to be read.
    let b = format!("https://localhost:{}", broken.tls);
    let (code, out, err) = preflight(&["--ca-file", ca], &addresses(&b, &b));
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("9 of 10 preflight checks failed"), "{err}");
    assert_eq!(line(&out, "privacy page").0, "PASS", "{out}");
    for (name, says) in [
        ("TLS", "days (it must stay valid for more than 14)"),
        (
            "home page",
            &format!("no link on it leads straight to {b}/terms/"),
        ),
        (
            "terms page",
            &format!("{b}/terms/ answers 302, a redirect to /terms/index.html"),
        ),
        ("support page", &format!("{b}/support/ answers 404")),
        (
            "scopes on the privacy page",
            "discloses user.info.stats which tiktok.scopes does not request",
        ),
        (
            "verification file",
            "is sent as `application/octet-stream`, not text/plain; ",
        ),
        (
            "verification file",
            "bytes that are not exactly tiktok.verification_content",
        ),
        (
            "redirect URI",
            &format!(
                "the service sends {origin}/auth/tiktok/callback, not the configured {b}/auth/tiktok/callback"
            ),
        ),
        ("webhook", &format!("{b}/tiktok/webhook answers 404")),
        ("security headers", "x-frame-options is missing"),
    ] {
        let (verdict, text) = line(&out, name);
        assert_eq!(verdict, "FAIL", "{name}:\n{out}");
        assert!(text.contains(says), "{name}: wanted `{says}` in:\n{text}");
    }
    let (_, tls_line) = line(&out, "TLS");
    assert!(
        tls_line.contains("in 9 days") || tls_line.contains("in 10 days"),
        "{tls_line}"
    );

    // The shipped site over plain http, and a verification file name nginx does not serve as
    // one: the pages, the prefix and the redirect URI fail.
    let plain = format!("http://127.0.0.1:{}", good.plain);
    let mut env = addresses(&plain, &plain);
    env.push((
        "MDZ_TIKTOK_VERIFICATION_FILE".into(),
        "tiktok-Preflight42.txt".into(),
    ));
    let (code, out, _) = preflight(&["--ca-file", ca], &env);
    assert_eq!(code, 2, "{out}");
    for (name, says) in [
        ("TLS", "is not https"),
        ("home page", "is served over plain http"),
        ("privacy page", "is served over plain http"),
        (
            "verification file",
            "TikTok verifies only an https prefix on a domain name",
        ),
        (
            "verification file",
            "deploy/nginx.conf serves only tiktok<letters and digits>.txt as the verification file, not `tiktok-Preflight42.txt`",
        ),
        (
            "redirect URI",
            &format!("{plain}/auth/tiktok/callback is not https"),
        ),
    ] {
        let (verdict, text) = line(&out, name);
        assert_eq!(verdict, "FAIL", "{name}:\n{out}");
        assert!(text.contains(says), "{name}: wanted `{says}` in:\n{text}");
    }
    for name in ["webhook", "security headers"] {
        assert_eq!(line(&out, name).0, "PASS", "{name}:\n{out}");
    }

    // Without the private CA the certificate is not trusted, and nothing is fetched past it.
    let (code, out, _) = preflight(&[], &addresses(&origin, &origin));
    assert_eq!(code, 2, "{out}");
    let (verdict, text) = line(&out, "TLS");
    assert_eq!(verdict, "FAIL", "{out}");
    assert!(
        text.contains("not signed by an authority clients trust"),
        "{text}"
    );
    assert!(text.contains("--ca-file"), "{text}");
    assert_eq!(line(&out, "privacy page").0, "FAIL", "{out}");

    // A certificate for another host.
    let elsewhere = format!("https://localhost:{other_host}");
    let (code, out, _) = preflight(&["--ca-file", ca], &addresses(&elsewhere, &elsewhere));
    assert_eq!(code, 2, "{out}");
    let (verdict, text) = line(&out, "TLS");
    assert_eq!(verdict, "FAIL", "{out}");
    assert!(
        text.contains("the certificate is not valid for localhost"),
        "{text}"
    );

    // A server that offers only TLS 1.0 and 1.1.
    let old = format!("https://localhost:{old_tls}");
    let (code, out, _) = preflight(&["--ca-file", ca], &addresses(&old, &old));
    assert_eq!(code, 2, "{out}");
    let (verdict, text) = line(&out, "TLS");
    assert_eq!(verdict, "FAIL", "{out}");
    assert!(text.contains("neither TLS 1.2 nor TLS 1.3"), "{text}");
    assert!(text.contains("ssl_protocols TLSv1.2 TLSv1.3"), "{text}");

    good_nginx.assert_running();
    broken_nginx.assert_running();
    drop(service);
    let took = began.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn preflight_names_a_bad_address_or_ca_file_and_connects_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.toml"), SITE).unwrap();
    std::fs::write(d.join("ca.pem"), "no certificate here\n").unwrap();
    for (args, says) in [
        (
            &["--base-url", "example.com/"][..],
            "the site's address (site.base_url or --base-url) `example.com/` is not an absolute URL",
        ),
        (
            &["--public-url", "//example.com"][..],
            "the callback's address (callback.public_url or --public-url) `//example.com` is not an absolute URL",
        ),
        (
            &["--base-url", "mailto:info@example.com"][..],
            "`mailto:info@example.com/` is not an http(s) URL with a host",
        ),
        (
            &["--ca-file", "ca.pem"][..],
            "--ca-file ca.pem: no certificate in the file",
        ),
        (&["--ca-file", "missing.pem"][..], "--ca-file missing.pem: "),
    ] {
        let mut all = vec!["preflight"];
        all.extend_from_slice(args);
        let (code, out, err) = run(d, &all, &[]);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: checked something: {out}");
        assert!(err.contains(says), "{args:?}: wanted `{says}` in {err}");
        assert!(err.contains("help: "), "{args:?}: {err}");
    }
}
