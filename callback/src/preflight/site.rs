//! The static site as TikTok's reviewer meets it: the home, privacy, terms and support pages
//! answer at their own addresses over https, the home page links the privacy policy and the
//! terms directly (the review wants them visible and working, docs/tiktok-contract.md §14), the
//! privacy page served discloses exactly the configured scopes, and the URL-prefix verification
//! file is there as TikTok fetches it.

use mdz::Config;
use url::{Host, Url};

use super::answer::{Answer, get};
use super::{Check, Outcome};

/// Where `mdz build` writes the policy pages (content/NAME.md becomes /NAME/).
const PAGES: [(&str, &str); 3] = [
    ("privacy page", "privacy/"),
    ("terms page", "terms/"),
    ("support page", "support/"),
];

const PUBLISH: &str = "build the site (`cargo run -p mdz -- build`) and copy public/ to the folder nginx serves (`root` in deploy/nginx.conf)";

pub(super) async fn checks(client: &reqwest::Client, base: &Url, config: &Config) -> Vec<Check> {
    let mut checks = Vec::new();
    let home = get(client, base.as_str()).await;
    let mut privacy = None;
    let mut linked = Vec::new();
    let mut pages = Vec::new();
    for (name, path) in PAGES {
        let url = base
            .join(path)
            .expect("an http(s) URL takes a relative path");
        let answer = get(client, url.as_str()).await;
        pages.push(page_check(name, &url, &answer));
        if path == "privacy/" {
            privacy = answer.ok().filter(|a| a.status == 200);
            linked.push(url);
        } else if path == "terms/" {
            linked.push(url);
        }
    }
    checks.push(match (page_check("home page", base, &home), &home) {
        (
            Check {
                outcome: Outcome::Pass(seen),
                ..
            },
            Ok(answer),
        ) => home_links(base, &answer.text(), &linked, seen),
        (other, _) => other,
    });
    checks.extend(pages);
    checks.push(scopes(privacy.as_ref(), config));
    checks.push(verification(client, base, config).await);
    checks
}

/// A page answers 200 at `url` itself, over https.
fn page_check(name: &'static str, url: &Url, answer: &Result<Answer, String>) -> Check {
    let a = match answer {
        Err(e) => {
            return Check::fail(
                name,
                format!("no answer from {url}: {e}"),
                "check that the host resolves to this server and nginx runs (see the TLS line)",
            );
        }
        Ok(a) => a,
    };
    if let Some(redirect) = a.redirect() {
        return Check::fail(
            name,
            format!("{url} {redirect}"),
            format!(
                "serve the page at {url} itself: TikTok's reviewer and URL verification do not follow redirects; if the site moved, set site.base_url to its new address and build again"
            ),
        );
    }
    if a.status != 200 {
        return Check::fail(name, format!("{url} answers {}", a.status), PUBLISH);
    }
    if url.scheme() != "https" {
        return Check::fail(
            name,
            format!("{url} is served over plain http"),
            "serve the site over https and set site.base_url to its https address",
        );
    }
    Check::pass(name, format!("200 at {url}"))
}

/// The home page links each of `wanted` with a link that lands on it, not on a redirect.
fn home_links(base: &Url, html: &str, wanted: &[Url], seen: String) -> Check {
    let links: Vec<Url> = hrefs(html)
        .iter()
        .filter_map(|h| base.join(h).ok())
        .map(|mut u| {
            u.set_fragment(None);
            u
        })
        .collect();
    let missing: Vec<&Url> = wanted.iter().filter(|w| !links.contains(w)).collect();
    if missing.is_empty() {
        let paths: Vec<&str> = wanted.iter().map(Url::path).collect();
        return Check::pass(
            "home page",
            format!("{seen}, links {} directly", paths.join(" and ")),
        );
    }
    let missing: Vec<String> = missing.iter().map(|u| u.to_string()).collect();
    Check::fail(
        "home page",
        format!(
            "{seen}, but no link on it leads straight to {}",
            missing.join(" or ")
        ),
        "link the privacy policy and the terms from the home page with their exact addresses (with the final `/`), outside any menu: the site's footer (templates/) does; then build and publish",
    )
}

/// The `href` of every `<a>` in `html`, quoted or not (minified pages drop the quotes), with
/// `&amp;` decoded. The site's own pages are well formed; this is not a general HTML parser.
fn hrefs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("<a") {
        let start = from + i + 2;
        from = start;
        if !lower[start..].starts_with(|c: char| c.is_ascii_whitespace()) {
            continue;
        }
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        let Some(h) = tag.find("href=") else { continue };
        let value_at = start + h + 5;
        let rest = &html[value_at..end];
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
            _ => rest
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .unwrap_or(""),
        };
        out.push(value.replace("&amp;", "&"));
    }
    out
}

/// The privacy page as served discloses exactly `tiktok.scopes` (the generator checks the
/// Markdown; this catches a server still holding an older build).
fn scopes(privacy: Option<&Answer>, config: &Config) -> Check {
    const NAME: &str = "scopes on the privacy page";
    let Some(page) = privacy else {
        return Check::fail(
            NAME,
            "not checked: the privacy page did not answer 200 (see its line)",
            "fix the privacy page first",
        );
    };
    let disclosed = mdz::scopes::disclosed(&page.text());
    let configured = &config.tiktok.scopes;
    let undisclosed: Vec<&str> = configured
        .iter()
        .map(String::as_str)
        .filter(|s| !disclosed.contains(s))
        .collect();
    let unrequested: Vec<&str> = disclosed
        .iter()
        .copied()
        .filter(|s| !configured.iter().any(|c| c == s))
        .collect();
    if undisclosed.is_empty() && unrequested.is_empty() {
        return Check::pass(
            NAME,
            format!(
                "{} discloses exactly tiktok.scopes ({})",
                page.url,
                configured.join(", ")
            ),
        );
    }
    let mut problems = Vec::new();
    if !undisclosed.is_empty() {
        problems.push(format!(
            "tiktok.scopes requests {} but {} does not disclose it",
            undisclosed.join(", "),
            page.url
        ));
    }
    if !unrequested.is_empty() {
        problems.push(format!(
            "{} discloses {} which tiktok.scopes does not request",
            page.url,
            unrequested.join(", ")
        ));
    }
    Check::fail(
        NAME,
        problems.join("; "),
        format!(
            "make content/privacy.md and tiktok.scopes in config.toml agree (`mdz check` compares them), then {PUBLISH}"
        ),
    )
}

/// TikTok's URL-prefix verification file at the site's prefix: the configured name (one
/// deploy/nginx.conf serves), `text/plain`, exactly the configured bytes, no redirect
/// (docs/tiktok-contract.md §14).
async fn verification(client: &reqwest::Client, base: &Url, config: &Config) -> Check {
    const NAME: &str = "verification file";
    let (Some(file), Some(content)) = (
        &config.tiktok.verification_file,
        &config.tiktok.verification_content,
    ) else {
        return Check {
            name: NAME,
            outcome: Outcome::Skip(
                "tiktok.verification_file is not set: verify the domain with TikTok's DNS TXT record instead, or set verification_file and verification_content to what TikTok gives for the URL prefix".into(),
            ),
        };
    };
    let url = match base.join(file) {
        Ok(u) => u,
        Err(e) => {
            return Check::fail(
                NAME,
                format!("`{file}`: {e}"),
                "use the file name TikTok gives",
            );
        }
    };
    let mut problems = Vec::new();
    let mut todo = Vec::new();
    if !mdz::config::nginx_serves_verification_file(file) {
        problems.push(format!(
            "deploy/nginx.conf serves only tiktok<letters and digits>.txt as the verification file, not `{file}`"
        ));
        todo.push("set tiktok.verification_file to the name TikTok gives (tiktok<TOKEN>.txt)");
    }
    if base.scheme() != "https" || matches!(base.host(), Some(Host::Ipv4(_) | Host::Ipv6(_))) {
        problems.push(format!(
            "TikTok verifies only an https prefix on a domain name, not {base}"
        ));
        todo.push("publish the site at an https address on a domain name");
    }
    match get(client, url.as_str()).await {
        Err(e) => {
            problems.push(format!("no answer from {url}: {e}"));
            todo.push(PUBLISH);
        }
        Ok(a) => {
            if let Some(redirect) = a.redirect() {
                problems.push(format!("{url} {redirect}, which TikTok does not follow"));
                todo.push("serve the file at the prefix itself, with no redirect");
            } else if a.status != 200 {
                problems.push(format!("{url} answers {}", a.status));
                todo.push(PUBLISH);
            } else {
                if !a.content_type().starts_with("text/plain") {
                    problems.push(format!(
                        "{url} is sent as `{}`, not text/plain",
                        a.content_type()
                    ));
                    todo.push("serve it as text/plain (the verification location of deploy/nginx.conf does)");
                }
                if a.body != content.as_bytes() {
                    problems.push(format!(
                        "{url} holds {} bytes that are not exactly tiktok.verification_content ({} bytes)",
                        a.body.len(),
                        content.len()
                    ));
                    todo.push(PUBLISH);
                }
            }
        }
    }
    if problems.is_empty() {
        Check::pass(
            NAME,
            format!("{url}: 200, text/plain, exactly tiktok.verification_content"),
        )
    } else {
        todo.dedup();
        Check::fail(NAME, problems.join("; "), todo.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_quoted_unquoted_and_only_on_anchors() {
        let html = r#"<link href=/style.css rel=stylesheet><a class=x href=/privacy/>P</a> <A HREF="/terms/?a=1&amp;b=2">T</A><a href='/support/'>S</a><abbr>x</abbr><a>none</a>"#;
        assert_eq!(hrefs(html), ["/privacy/", "/terms/?a=1&b=2", "/support/"]);
    }

    #[test]
    fn the_home_page_must_link_the_exact_addresses() {
        let base = Url::parse("https://example.com/").unwrap();
        let wanted = [base.join("privacy/").unwrap(), base.join("terms/").unwrap()];
        let good = "<a href=/privacy/#top>Privacy</a><a href=https://example.com/terms/>Terms</a>";
        let c = home_links(&base, good, &wanted, "200".into());
        assert!(
            matches!(c.outcome, Outcome::Pass(ref s) if s.contains("/privacy/ and /terms/")),
            "{c:?}"
        );
        // `/terms` is a redirect to `/terms/`: not a direct link.
        let c = home_links(
            &base,
            "<a href=/privacy/>P</a><a href=/terms>T</a>",
            &wanted,
            "200".into(),
        );
        assert!(c.failed(), "{c:?}");
        assert!(
            matches!(&c.outcome, Outcome::Fail { problem, .. } if problem.contains("https://example.com/terms/") && !problem.contains("privacy")),
            "{c:?}"
        );
    }
}
