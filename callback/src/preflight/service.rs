//! The callback service through its public URL, as TikTok's servers and a browser reach it:
//! the redirect URI it sends (and that must be registered with TikTok), the webhook route, and
//! the security headers on `/healthz`.

use mdz::Config;
use mdz::chrome::{STYLE, style_hash_source};
use reqwest::header::CONTENT_TYPE;
use url::Url;

use super::Check;
use super::answer::{get, send};
use crate::http::{Route, StandardHeaders, csp};

/// TikTok accepts redirect URIs shorter than this (docs/tiktok-contract.md §2.1).
const MAX_REDIRECT_URI: usize = 512;

pub(super) async fn checks(client: &reqwest::Client, config: &Config) -> Vec<Check> {
    vec![
        redirect_uri(client, config).await,
        webhook(client, config).await,
        security_headers(client, config).await,
    ]
}

/// What TikTok refuses in a redirect URI (docs/tiktok-contract.md §2.1): not https, a query,
/// a fragment, 512 characters or more.
pub fn redirect_uri_problems(uri: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !uri.starts_with("https://") {
        problems.push(format!("{uri} is not https"));
    }
    if uri.contains('?') {
        problems.push(format!("{uri} has a query"));
    }
    if uri.contains('#') {
        problems.push(format!("{uri} has a fragment"));
    }
    if uri.chars().count() >= MAX_REDIRECT_URI {
        problems.push(format!(
            "the redirect URI is {} characters long; TikTok takes fewer than {MAX_REDIRECT_URI}",
            uri.chars().count()
        ));
    }
    problems
}

/// The configured redirect URI is one TikTok accepts, and the running service sends exactly
/// it: a sign-in start is answered with a redirect to TikTok carrying it. The sign-in is never
/// completed; its state expires like any abandoned one.
async fn redirect_uri(client: &reqwest::Client, config: &Config) -> Check {
    const NAME: &str = "redirect URI";
    let uri = crate::redirect_uri(config);
    let mut problems = redirect_uri_problems(&uri);
    let mut todo = Vec::new();
    if !problems.is_empty() {
        todo.push("set callback.public_url to the https origin of the callback alone (no path, query or fragment)".to_string());
    }
    let start = format!(
        "{}{}",
        config.callback.public_url,
        Route::SignInStart.path(None)
    );
    match get(client, &start).await {
        Err(e) => {
            problems.push(format!("no answer from {start}: {e}"));
            todo.push("check that mdz-callback serve runs and nginx proxies /auth/tiktok/ to it (deploy/nginx.conf)".into());
        }
        Ok(a) if !(300..400).contains(&a.status) => {
            problems.push(format!(
                "{start} answers {}, not a redirect to TikTok's sign-in",
                a.status
            ));
            todo.push("check that mdz-callback serve runs and nginx proxies /auth/tiktok/ to it (deploy/nginx.conf)".into());
        }
        Ok(a) => {
            // The Location also carries the state and the PKCE challenge: only the redirect
            // URI is taken from it, and only that is ever shown.
            let sent = a
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| Url::parse(l).ok())
                .and_then(|l| {
                    l.query_pairs()
                        .find(|(k, _)| k == "redirect_uri")
                        .map(|(_, v)| v.into_owned())
                });
            match sent {
                Some(sent) if sent == uri => {}
                Some(sent) => {
                    problems.push(format!(
                        "the service sends {sent}, not the configured {uri}"
                    ));
                    todo.push("give the running service the same callback.public_url (config.toml or MDZ_CALLBACK_PUBLIC_URL) and restart it".into());
                }
                None => {
                    problems.push(format!("{start} redirects without a redirect_uri"));
                    todo.push("check that it is mdz-callback answering there".into());
                }
            }
        }
    }
    if problems.is_empty() {
        Check::pass(
            NAME,
            format!("{uri} is what the service sends; register exactly this with TikTok"),
        )
    } else {
        todo.dedup();
        Check::fail(NAME, problems.join("; "), todo.join("; "))
    }
}

/// TikTok's webhook deliveries reach the service: an unsigned one is refused with 401 (the
/// service checks the signature), not lost in a 404 at the proxy.
async fn webhook(client: &reqwest::Client, config: &Config) -> Check {
    const NAME: &str = "webhook";
    let url = format!(
        "{}{}",
        config.callback.public_url,
        Route::Webhook.path(None)
    );
    let request = client
        .post(&url)
        .header(CONTENT_TYPE, "application/json")
        .body("{}");
    match send(request, &url).await {
        Ok(a) if a.status == 401 => {
            Check::pass(NAME, format!("{url} refuses an unsigned delivery with 401"))
        }
        Ok(a) if a.status == 404 => Check::fail(
            NAME,
            format!("{url} answers 404: deliveries would be lost"),
            "proxy it to the service (`location = /tiktok/webhook` in deploy/nginx.conf) and reload nginx",
        ),
        Ok(a) => Check::fail(
            NAME,
            format!(
                "{url} answers {} to an unsigned delivery, not 401",
                a.status
            ),
            "check that mdz-callback serve runs and that nginx proxies /tiktok/webhook to it unchanged (deploy/nginx.conf)",
        ),
        Err(e) => Check::fail(
            NAME,
            format!("no answer from {url}: {e}"),
            "check that mdz-callback serve runs and nginx proxies /tiktok/webhook to it",
        ),
    }
}

/// `/healthz` through the public URL carries every header the service sets, once each and
/// unchanged: a proxy that drops, doubles or rewrites one is caught.
async fn security_headers(client: &reqwest::Client, config: &Config) -> Check {
    const NAME: &str = "security headers";
    let url = format!("{}{}", config.callback.public_url, Route::Health.path(None));
    let answer = match get(client, &url).await {
        Err(e) => {
            return Check::fail(
                NAME,
                format!("no answer from {url}: {e}"),
                "check that mdz-callback serve runs and nginx proxies /healthz to it",
            );
        }
        Ok(a) => a,
    };
    if answer.status != 200 {
        return Check::fail(
            NAME,
            format!("{url} answers {}", answer.status),
            "check that mdz-callback serve runs and nginx proxies /healthz to it (deploy/nginx.conf)",
        );
    }
    let expected = StandardHeaders::new(&csp(&style_hash_source(STYLE), None), true);
    let mut problems = Vec::new();
    for (name, want) in expected.headers() {
        let got: Vec<_> = answer.headers.get_all(name).iter().collect();
        match got.as_slice() {
            [] => problems.push(format!("{name} is missing")),
            [one] if *one == want => {}
            [one] => problems.push(format!(
                "{name} is `{}`, not `{}`",
                one.to_str().unwrap_or("?"),
                want.to_str().unwrap_or("?")
            )),
            many => problems.push(format!("{name} is sent {} times", many.len())),
        }
    }
    if problems.is_empty() {
        let names: Vec<&str> = expected.headers().keys().map(|k| k.as_str()).collect();
        Check::pass(NAME, format!("{url} carries {}", names.join(", ")))
    } else {
        Check::fail(
            NAME,
            format!("{url}: {}", problems.join("; ")),
            "let nginx pass the service's headers through once and unchanged (no add_header or proxy_hide_header in the proxied locations; include deploy/proxy.conf), and give the service an https callback.public_url, without which it sends no Strict-Transport-Security",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiktok_takes_only_short_static_https_redirect_uris() {
        assert!(redirect_uri_problems("https://example.com/auth/tiktok/callback").is_empty());
        for (uri, what) in [
            ("http://example.com/auth/tiktok/callback", "not https"),
            ("https://example.com/?a=1/auth/tiktok/callback", "a query"),
            ("https://example.com/#x/auth/tiktok/callback", "a fragment"),
        ] {
            let p = redirect_uri_problems(uri);
            assert!(p.len() == 1 && p[0].contains(what), "{uri}: {p:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_REDIRECT_URI - 20));
        assert_eq!(long.len(), MAX_REDIRECT_URI);
        let p = redirect_uri_problems(&long);
        assert!(
            p.len() == 1 && p[0].contains("512 characters long"),
            "{p:?}"
        );
        assert!(redirect_uri_problems(&long[..MAX_REDIRECT_URI - 1]).is_empty());
    }
}
