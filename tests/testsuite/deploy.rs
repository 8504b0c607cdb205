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

/// What nginx's policy allows is what the built pages inline: a single byte more (the file's
/// final newline, which the minifier drops) and browsers refuse the whole stylesheet.
#[test]
fn every_built_page_inlines_exactly_the_stylesheet_the_policy_allows() {
    let public = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("public");
    let mut pages = vec![public.clone()];
    let mut checked = 0;
    while let Some(p) = pages.pop() {
        if p.is_dir() {
            pages.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if p.extension().is_some_and(|e| e == "html") {
            let html = std::fs::read_to_string(&p).unwrap();
            let css = html
                .split_once("<style>")
                .and_then(|(_, rest)| rest.split_once("</style>"))
                .map(|(css, _)| css)
                .unwrap_or_else(|| panic!("{}: no <style>", p.display()));
            assert_eq!(
                style_hash_source(css),
                style_hash_source(STYLE),
                "{}: its stylesheet is not the one the CSP allows",
                p.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} pages in public/");
}

/// The value of the one `name value;` directive in `conf`, if there is one.
fn directive<'a>(conf: &'a str, name: &str) -> Option<&'a str> {
    let mut found = conf
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.trim_end_matches(';'));
    let value = found.next();
    assert!(found.next().is_none(), "`{name}` more than once");
    value
}

/// The server blocks of deploy/nginx.conf.
fn nginx_servers(conf: &str) -> Vec<&str> {
    let servers: Vec<&str> = conf.split("\nserver {").skip(1).collect();
    assert_eq!(
        servers.len(),
        2,
        "expected the port-80 and the https server"
    );
    servers
}

#[test]
fn nginx_proxies_only_the_callback_routes() {
    let conf = deploy("nginx.conf");
    let proxied: Vec<&str> = conf
        .lines()
        .filter(|l| l.contains("proxy_pass"))
        .map(str::trim)
        .collect();
    let routes = [
        "location ^~ /auth/tiktok/ ",
        "location = /auth/tiktok/callback ",
        "location ^~ /operator ",
        "location = /healthz ",
        "location = /tiktok/webhook ",
    ];
    assert_eq!(proxied.len(), routes.len(), "{proxied:?}");
    for route in routes {
        assert!(
            proxied.iter().any(|l| l.starts_with(route)),
            "{route} is not proxied: {proxied:?}"
        );
    }
    assert!(deploy("proxy.conf").contains("proxy_set_header X-Real-IP $remote_addr;"));
}

#[test]
fn nginx_logs_paths_never_queries() {
    let conf = deploy("nginx.conf");
    let start = conf
        .find("log_format mdz_no_query ")
        .expect("the mdz_no_query log format");
    let format = &conf[start..start + conf[start..].find(';').unwrap()];
    let variables: Vec<&str> = format
        .split('$')
        .skip(1)
        .map(|v| {
            v.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap()
        })
        .collect();
    for v in &variables {
        assert!(
            !matches!(
                *v,
                "request" | "request_uri" | "args" | "query_string" | "is_args" | "http_referer"
            ) && !v.starts_with("arg_"),
            "the access log would hold a query (TikTok's code and state) through ${v}"
        );
    }
    for server in nginx_servers(&conf) {
        for line in [
            "access_log /var/log/nginx/access.log mdz_no_query;",
            "error_log /var/log/nginx/error.log error;",
        ] {
            assert!(
                server.lines().any(|l| l.trim() == line),
                "a server block lacks {line}"
            );
        }
    }
    assert!(
        conf.lines().any(|l| l
            .trim_start()
            .starts_with("location = /auth/tiktok/callback ")
            && l.contains("error_log /dev/null;")),
        "the callback location, whose request line holds the code, keeps an error log"
    );
}

#[test]
fn nginx_hides_its_version_in_every_server() {
    for server in nginx_servers(&deploy("nginx.conf")) {
        assert!(
            server.lines().any(|l| l.trim() == "server_tokens off;"),
            "a server block shows nginx's version:\n{server}"
        );
    }
}

#[test]
fn nginx_tls_is_1_2_and_1_3_with_forward_secret_aead_suites_only() {
    let conf = deploy("nginx.conf");
    assert_eq!(directive(&conf, "ssl_protocols"), Some("TLSv1.2 TLSv1.3"));
    let ciphers = directive(&conf, "ssl_ciphers").expect("ssl_ciphers");
    for suite in ciphers.split(':') {
        assert!(
            suite.starts_with("ECDHE-")
                && ["-GCM-SHA256", "-GCM-SHA384", "-CHACHA20-POLY1305"]
                    .iter()
                    .any(|aead| suite.ends_with(aead)),
            "{suite} is not ECDHE with an AEAD cipher"
        );
    }
    assert_eq!(directive(&conf, "ssl_prefer_server_ciphers"), Some("off"));
    assert_eq!(directive(&conf, "ssl_session_tickets"), Some("off"));
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
