//! `mdz build` as an editor and a visitor meet it: the real site's pages, the seed policy
//! published faithfully, glossary links, failed builds that keep the old site, and
//! reproducible output.

use crate::support::*;

fn built_real_site() -> (tempfile::TempDir, std::path::PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let public = out.path().join("public");
    let o = build(&repo(), &public);
    assert!(o.status.success(), "{}", stderr(&o));
    (out, public)
}

fn page(public: &std::path::Path, rel: &str) -> String {
    std::fs::read_to_string(public.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_page_and_file_is_published_at_its_url() {
    let (_t, public) = built_real_site();
    for rel in [
        "index.html",
        "privacy/index.html",
        "terms/index.html",
        "support/index.html",
        "glossary/index.html",
        "404.html",
        "sitemap.xml",
        "robots.txt",
        ".well-known/security.txt",
    ] {
        assert!(public.join(rel).is_file(), "{rel} missing");
    }
    for rel in [
        "index.html",
        "privacy/index.html",
        "terms/index.html",
        "support/index.html",
        "glossary/index.html",
        "404.html",
    ] {
        let html = page(&public, rel);
        assert!(html.starts_with("<!doctype html><html lang=en>"), "{rel}");
        assert!(
            html.contains("<title>") && html.contains("name=description"),
            "{rel}"
        );
        assert!(html.contains("name=viewport"), "{rel}");
        assert!(!html.contains("<script"), "{rel} carries a script");
        assert!(
            html.len() < 14 * 1024,
            "{rel} is {} bytes with its CSS",
            html.len()
        );
        assert_eq!(html.contains("rel=canonical"), rel != "404.html", "{rel}");
        for link in ["/privacy/", "/terms/"] {
            assert!(
                html.contains(&format!("href={link}")),
                "{rel} lacks a visible link to {link}"
            );
        }
    }
    assert!(
        page(&public, "privacy/index.html")
            .contains("href=https://miradigitalzen.ecooffice.net/privacy/ rel=canonical")
    );
}

#[test]
fn privacy_page_publishes_every_sentence_of_the_seed() {
    let seed =
        std::fs::read_to_string(repo().join("tests/fixtures/privacy-policy-seed.txt")).unwrap();
    let (_t, public) = built_real_site();
    let html = page(&public, "privacy/index.html");
    let text = visible_text(&html);
    for line in seed.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.strip_prefix("- ").unwrap_or(line);
        assert!(
            text.contains(line),
            "the privacy page lacks the seed's line:\n{line}"
        );
    }
    for heading in [
        "Controller and contact",
        "What the TikTok integration collects",
        "Why data is used",
        "Posting boundary",
        "Sharing and processors",
        "Retention",
        "User choices and rights",
        "Last updated",
    ] {
        assert!(
            html.contains(&format!(">{heading}</h2>")),
            "{heading} is not a heading"
        );
    }
    // Bullets of the seed are list items.
    assert!(html.contains("<li>Support messages sent by email or public request forms.</li>"));
    assert!(text.contains("Last updated 2026-05-02."));
    assert!(text.contains("info@ecooffice.net"));
}

#[test]
fn seed_copy_matches_the_shared_seed_when_present() {
    let shared = repo().join("../shared/seed/privacy-policy-seed.txt");
    if let Ok(seed) = std::fs::read_to_string(&shared) {
        let copy =
            std::fs::read_to_string(repo().join("tests/fixtures/privacy-policy-seed.txt")).unwrap();
        assert_eq!(
            seed,
            copy,
            "tests/fixtures/privacy-policy-seed.txt is stale; copy {} again",
            shared.display()
        );
    }
}

#[test]
fn glossary_terms_link_on_first_use_only_and_every_seed_term_has_an_anchor() {
    let (_t, public) = built_real_site();
    let privacy = page(&public, "privacy/index.html");
    assert!(privacy.contains("<a class=gl href=/glossary/#login-kit>Login Kit</a>"));
    assert!(privacy.contains("<a class=gl href=/glossary/#api><abbr title=\"application programming interface\">API</abbr></a>"));
    assert_eq!(
        privacy.matches("href=/glossary/#login-kit").count(),
        1,
        "only the first use links"
    );
    // Never inside headings.
    for h2 in privacy.split("<h2").skip(1) {
        let h2 = h2.split("</h2>").next().unwrap();
        assert!(
            !h2.contains("class=gl"),
            "glossary link inside a heading: {h2}"
        );
    }
    let glossary = page(&public, "glossary/index.html");
    for id in [
        "ot",
        "ai",
        "ats",
        "cv",
        "eur",
        "pdf",
        "doc",
        "docx",
        "txt",
        "xlsx",
        "csv",
        "ics",
        "faq",
        "jpg",
        "png",
        "zip",
        "login-kit",
        "scope",
        "draft",
        "inbox",
        "open-id",
        "oauth",
        "access-token",
    ] {
        assert!(
            glossary.contains(&format!("<dt id={id}>")),
            "glossary has no entry #{id}"
        );
    }
    assert!(
        !glossary.contains("<a class=gl"),
        "the glossary does not link to itself"
    );
}

#[test]
fn terms_and_support_are_real_pages() {
    let (_t, public) = built_real_site();
    let terms = visible_text(&page(&public, "terms/index.html"));
    assert!(terms.split_whitespace().count() >= 250);
    for must in [
        "draft",
        "video.publish",
        "reviewed by counsel",
        "info@ecooffice.net",
        "Last updated",
    ] {
        assert!(terms.contains(must), "terms lack {must:?}");
    }
    let support = visible_text(&page(&public, "support/index.html"));
    for must in [
        "info@ecooffice.net",
        "access",
        "delete",
        "revoke",
        "Last updated",
    ] {
        assert!(
            support.to_lowercase().contains(&must.to_lowercase()),
            "support lacks {must:?}"
        );
    }
}

#[test]
fn how_it_works_is_linked_from_home_and_listed_in_the_sitemap() {
    let (_t, public) = built_real_site();
    let home = page(&public, "index.html");
    assert!(
        home.contains("href=/how-it-works/>"),
        "home does not link it"
    );
    assert!(
        page(&public, "sitemap.xml")
            .contains("<loc>https://miradigitalzen.ecooffice.net/how-it-works/</loc>")
    );
    let how = page(&public, "how-it-works/index.html");
    for id in ["scope-user-info-basic", "scope-video-upload"] {
        assert!(how.contains(&format!(" id={id}>")), "no #{id}:\n{how}");
    }
}

#[test]
fn security_txt_and_sitemap_follow_their_standards() {
    let (_t, public) = built_real_site();
    let sec = page(&public, ".well-known/security.txt");
    assert!(sec.contains("Contact: mailto:info@ecooffice.net\n"));
    assert!(
        sec.contains("Expires: 2027-05-01T00:00:00Z\n"),
        "from config, not the clock"
    );
    assert!(
        sec.contains("Canonical: https://miradigitalzen.ecooffice.net/.well-known/security.txt\n")
    );
    assert!(sec.contains("Preferred-Languages: en\n"));
    let sitemap = page(&public, "sitemap.xml");
    assert!(sitemap.contains(
        "<loc>https://miradigitalzen.ecooffice.net/privacy/</loc><lastmod>2026-05-02</lastmod>"
    ));
    assert!(!sitemap.contains("404"));
    assert!(
        page(&public, "robots.txt")
            .contains("Sitemap: https://miradigitalzen.ecooffice.net/sitemap.xml")
    );
}

#[test]
fn verification_file_is_published_byte_for_byte_when_configured() {
    let site = scratch_site();
    let config = std::fs::read_to_string(site.path().join("config.toml")).unwrap().replace(
        "[tiktok]\n",
        "[tiktok]\nverification_file = \"tiktokAbC123.txt\"\nverification_content = \"tiktok-developers-site-verification=AbC123\"\n",
    );
    write(site.path(), "config.toml", &config);
    let out = site.path().join("public");
    let o = build(site.path(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(out.join("tiktokAbC123.txt")).unwrap(),
        b"tiktok-developers-site-verification=AbC123"
    );
}

#[test]
fn a_broken_page_names_file_and_line_and_leaves_public_untouched() {
    let site = scratch_site();
    let out = site.path().join("public");
    assert!(build(site.path(), &out).status.success());
    let before = tree(&out);
    let terms = std::fs::read_to_string(site.path().join("content/terms.md")).unwrap();
    let broken = terms.replacen(
        "title = \"",
        "title = \"unclosed\ndescription_typo = 1\n#",
        1,
    );
    write(site.path(), "content/terms.md", &broken);
    write(
        site.path(),
        "content/privacy.md",
        &std::fs::read_to_string(site.path().join("content/privacy.md"))
            .unwrap()
            .replace("(@/support.md)", "(@/nowhere.md)"),
    );
    let o = build(site.path(), &out);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("content/terms.md:2:"), "{err}");
    assert!(err.contains("help:"), "says what to do: {err}");
    assert!(
        err.contains("content/privacy.md:") || err.contains("problem"),
        "{err}"
    );
    assert_eq!(tree(&out), before, "a failed build changed public/");
    // No staging leftovers beside it.
    let leftovers: Vec<_> = std::fs::read_dir(site.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging") || n.contains(".old-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_broken_link_is_reported_at_its_line() {
    let site = scratch_site();
    let support = std::fs::read_to_string(site.path().join("content/support.md")).unwrap();
    let line = support
        .lines()
        .position(|l| l.contains("@/privacy.md#retention"))
        .expect("support links the retention section")
        + 1;
    write(
        site.path(),
        "content/support.md",
        &support.replace("@/privacy.md#retention", "@/privacy.md#retension"),
    );
    let o = build(site.path(), &site.path().join("public"));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains(&format!("content/support.md:{line}:")),
        "{err}"
    );
    assert!(
        err.contains("#retension") && err.contains("#retention"),
        "suggests the real anchor: {err}"
    );
    assert!(!site.path().join("public").exists(), "nothing written");
}

#[test]
fn two_builds_are_byte_identical_and_match_the_committed_public() {
    let (_a, first) = built_real_site();
    let (_b, second) = built_real_site();
    assert_eq!(tree(&first), tree(&second));
    let committed = tree(&repo().join("public"));
    let fresh = tree(&first);
    let differ: std::collections::BTreeSet<_> = fresh
        .keys()
        .chain(committed.keys())
        .filter(|k| fresh.get(*k) != committed.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "public/ is stale; run `cargo run -- build` and commit it. Differs: {differ:?}"
    );
}
