//! The deployment files agree with the code they front.

use mdz::chrome::{STYLE, style_hash_source};

fn deploy(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(name),
    )
    .unwrap()
}

#[test]
fn nginx_csp_allows_exactly_the_current_stylesheet() {
    let expected = style_hash_source(STYLE);
    let headers = deploy("security-headers.conf");
    assert!(
        headers.contains(&format!("style-src {expected};")),
        "deploy/security-headers.conf is stale: templates/style.css changed; set style-src {expected}"
    );
}

#[test]
fn nginx_proxies_only_the_callback_routes() {
    let conf = deploy("nginx.conf");
    let proxied: Vec<&str> = conf
        .lines()
        .filter(|l| l.contains("proxy_pass"))
        .map(str::trim)
        .collect();
    assert_eq!(proxied.len(), 4, "{proxied:?}");
    for route in [
        "location ^~ /auth/tiktok/ ",
        "location ^~ /operator ",
        "location = /healthz ",
        "location = /tiktok/webhook ",
    ] {
        assert!(
            proxied.iter().any(|l| l.starts_with(route)),
            "{route} is not proxied: {proxied:?}"
        );
    }
    assert!(deploy("proxy.conf").contains("proxy_set_header X-Real-IP $remote_addr;"));
}

#[test]
fn systemd_unit_is_hardened_and_reads_secrets_from_credentials() {
    let unit = deploy("mdz-callback.service");
    for line in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=mdz-callback",
        "Environment=MDZ_CALLBACK_DATA_DIR=/var/lib/mdz-callback",
        "Environment=TIKTOK_CLIENT_KEY_FILE=%d/tiktok_client_key",
        "Environment=TIKTOK_CLIENT_SECRET_FILE=%d/tiktok_client_secret",
        "Environment=MDZ_TOKEN_KEY_FILE=%d/mdz_token_key",
        "LoadCredential=mdz_token_key:/etc/mdz/credentials/mdz_token_key",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "unit lacks {line}");
    }
    assert!(
        !unit.contains("TIKTOK_CLIENT_SECRET="),
        "no secret in the unit itself"
    );
}
