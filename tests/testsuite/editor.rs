//! The editor's loop: `mdz check` lists every problem at its file and line, bad input gets a
//! clear error instead of a panic, and `mdz serve` rebuilds and recovers while it runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn check(root: &Path) -> (bool, String) {
    let o = mdz(&["check", "--root", root.to_str().unwrap()]);
    (o.status.success(), stderr(&o))
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not found"))
        + 1
}

#[test]
fn the_real_site_checks_clean() {
    let (ok, err) = check(&repo());
    assert!(ok, "{err}");
}

#[test]
fn check_lists_every_problem_with_file_line_and_help_and_writes_nothing() {
    let site = scratch_site();
    let root = site.path();
    // 1. front matter of the wrong type, in terms.md
    let terms = read(root, "content/terms.md");
    write(
        root,
        "content/terms.md",
        &terms.replacen("updated = 2026-05-02", "updated = \"yesterday\"", 1),
    );
    // 2. a link to a missing anchor, in support.md
    let support = read(root, "content/support.md");
    let support = support.replacen("@/privacy.md#retention", "@/privacy.md#nope", 1);
    let support_line = line_of(&support, "@/privacy.md#nope");
    write(root, "content/support.md", &support);
    // 3. a link to a missing page, in index.md
    let index = read(root, "content/index.md") + "\nSee [the blog](/blog/).\n";
    let index_line = line_of(&index, "(/blog/)");
    write(root, "content/index.md", &index);
    // 4. an abbreviation without glossary entry, and 5. contact missing, in the 404 page (not a
    //    policy page) and the privacy page
    let privacy =
        read(root, "content/privacy.md").replace("info@ecooffice.net", "someone@example.com");
    let privacy = privacy + "\nThe XYZW team reviews requests.\n";
    let xyzw_line = line_of(&privacy, "XYZW");
    write(root, "content/privacy.md", &privacy);
    // 6. a glossary term defined twice
    let glossary = read(root, "content/glossary.md");
    let glossary = glossary.replacen(
        "[[glossary]]",
        "[[glossary]]\nterm = \"Login Kit\"\ndefinition = \"Twice.\"\n\n[[glossary]]",
        1,
    );
    write(root, "content/glossary.md", &glossary);

    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains("content/terms.md:") && err.contains("updated"),
        "{err}"
    );
    assert!(
        err.contains(&format!("content/support.md:{support_line}:")) && err.contains("#nope"),
        "{err}"
    );
    assert!(
        err.contains(&format!("content/index.md:{index_line}:")) && err.contains("/blog/"),
        "{err}"
    );
    assert!(
        err.contains(&format!("content/privacy.md:{xyzw_line}:"))
            && err.contains("`XYZW` has no glossary entry"),
        "{err}"
    );
    assert!(
        err.contains("content/privacy.md:")
            && err.contains("info@ecooffice.net is not on this page"),
        "{err}"
    );
    assert!(
        err.contains("content/glossary.md:") && err.contains("already defined"),
        "{err}"
    );
    assert!(
        err.matches("help:").count() >= 6,
        "every problem says what to do:\n{err}"
    );
    assert!(!root.join("public").exists(), "check wrote public/");
}

#[test]
fn scopes_must_match_the_policy_and_never_include_video_publish() {
    let site = scratch_site();
    let root = site.path();
    let config = read(root, "config.toml");
    write(
        root,
        "config.toml",
        &config.replace(
            "scopes = [\"user.info.basic\", \"video.upload\"]",
            "scopes = [\"user.info.basic\", \"video.upload\", \"video.publish\"]",
        ),
    );
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains(&format!("config.toml:{}:", line_of(&config, "scopes =")))
            && err.contains("video.publish"),
        "{err}"
    );

    // The policy drops a scope the config still requests.
    write(root, "config.toml", &config);
    let privacy = read(root, "content/privacy.md")
        .replace("Content Posting API video.upload", "Content Posting API");
    write(root, "content/privacy.md", &privacy);
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains("`video.upload` is configured but content/privacy.md does not disclose it"),
        "{err}"
    );
}

#[test]
fn every_configured_scope_must_be_explained_on_the_how_it_works_page() {
    let site = scratch_site();
    let root = site.path();
    let config = read(root, "config.toml");
    let page = read(root, "content/how-it-works.md");
    let scopes_line = line_of(&config, "scopes =");

    // The section's heading loses its backticks: naming the scope in text explains nothing.
    let unexplained = page.replace("### `video.upload`", "### video.upload");
    assert_ne!(unexplained, page, "the page has a `video.upload` heading");
    write(root, "content/how-it-works.md", &unexplained);
    let (ok, err) = check(root);
    assert!(!ok, "an unexplained scope passed:\n{err}");
    assert!(
        err.contains(&format!("config.toml:{scopes_line}:"))
            && err.contains(
                "scope `video.upload` is configured but content/how-it-works.md does not explain it"
            )
            && err.contains("{#scope-video-upload}"),
        "{err}"
    );
    assert!(!err.contains("`user.info.basic`"), "{err}");

    // A heading with nothing under it is not an explanation either.
    let start = page.find("### `video.upload`").unwrap();
    let end = start + page[start..].find("\n## ").unwrap();
    let heading_only = format!(
        "{}### `video.upload` {{#scope-video-upload}}\n{}",
        &page[..start],
        &page[end..]
    );
    write(root, "content/how-it-works.md", &heading_only);
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "content/how-it-works.md:{}:1",
            line_of(&heading_only, "### `video.upload`")
        )) && err.contains("the heading for scope `video.upload` has no paragraph under it"),
        "{err}"
    );

    // Explaining a scope that is not requested is refused at its heading.
    let extra = page.clone()
        + "\n## `video.list` {#scope-video-list}\n\nThe service reads the list of videos.\n";
    write(root, "content/how-it-works.md", &extra);
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "content/how-it-works.md:{}:1",
            line_of(&extra, "## `video.list`")
        )) && err.contains("explains scope `video.list`"),
        "{err}"
    );

    // Restored, the site checks clean again.
    write(root, "content/how-it-works.md", &page);
    let (ok, err) = check(root);
    assert!(ok, "{err}");
}

#[test]
fn a_missing_how_it_works_page_is_reported() {
    let site = scratch_site();
    let root = site.path();
    std::fs::remove_file(root.join("content/how-it-works.md")).unwrap();
    // The home page's links to it break too; this test is about the page's own problem.
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains("content/how-it-works.md: there is no how-it-works page"),
        "{err}"
    );
    assert!(err.contains("create content/how-it-works.md"), "{err}");
}

#[test]
fn last_updated_must_be_shown_and_agree_with_front_matter() {
    let site = scratch_site();
    let root = site.path();
    let terms =
        read(root, "content/terms.md").replacen("updated = 2026-05-02", "updated = 2026-06-01", 1);
    write(root, "content/terms.md", &terms);
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "content/terms.md:{}:",
            line_of(&terms, "Last updated")
        )),
        "{err}"
    );
    assert!(err.contains("2026-06-01"), "{err}");
}

#[test]
fn template_problems_are_named_by_template_and_line() {
    let site = scratch_site();
    let root = site.path();
    let page = read(root, "templates/page.html");
    write(
        root,
        "templates/page.html",
        &page.replace("{{ page.title }}", "{{ page.titel }}"),
    );
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "template page.html:{}:",
            line_of(&page, "{{ page.title }}")
        )) && err.contains("page.titel"),
        "{err}"
    );

    write(
        root,
        "templates/page.html",
        &page.replace("{% endblock main %}", ""),
    );
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(err.contains("template page.html"), "{err}");

    write(root, "templates/page.html", &page);
    let terms =
        read(root, "content/terms.md").replacen("+++\n", "+++\ntemplate = \"legal.html\"\n", 1);
    write(root, "content/terms.md", &terms);
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains("content/terms.md:2:") && err.contains("no template `legal.html`"),
        "{err}"
    );
}

#[test]
fn security_txt_expiry_is_checked_against_today() {
    let site = scratch_site();
    let root = site.path();
    let config = read(root, "config.toml");
    let line = line_of(&config, "security_txt_expires");
    write(
        root,
        "config.toml",
        &config.replace("2027-05-01T00:00:00Z", "2020-01-01T00:00:00Z"),
    );
    let (ok, err) = check(root);
    assert!(!ok);
    assert!(
        err.contains(&format!("config.toml:{line}:")) && err.contains("expired"),
        "{err}"
    );
}

/// Something an editor (or a disk) might do to a site.
type Breakage = Box<dyn Fn(&Path)>;

#[test]
fn bad_input_gets_a_clear_error_not_a_panic() {
    let cases: Vec<(&str, Breakage, &str)> = vec![
        (
            "non-UTF-8",
            Box::new(|r: &Path| {
                std::fs::write(r.join("content/bad.md"), b"+++\ntitle = \"x\"\n\xff\xfe\n").unwrap()
            }),
            "content/bad.md:3:1: the file is not UTF-8",
        ),
        (
            "empty",
            Box::new(|r: &Path| write(r, "content/empty.md", "")),
            "content/empty.md:1:1: the file is empty",
        ),
        (
            "unclosed front matter",
            Box::new(|r: &Path| write(r, "content/open.md", "+++\ntitle = \"x\"\n\nText.\n")),
            "content/open.md:1:1: the front matter opened here is never closed",
        ),
        (
            "same URL twice",
            Box::new(|r: &Path| write(r, "content/terms/index.md", &read(r, "content/terms.md"))),
            "would both be published at /terms/",
        ),
        (
            "20 MB page",
            Box::new(|r: &Path| {
                let mut f = std::fs::File::create(r.join("content/huge.md")).unwrap();
                f.write_all(
                    b"+++\ntitle = \"h\"\ndescription = \"h\"\nupdated = 2026-01-01\n+++\n",
                )
                .unwrap();
                let line = "lorem ipsum dolor sit amet ".repeat(40) + "\n";
                for _ in 0..(20 * 1024 * 1024 / line.len()) {
                    f.write_all(line.as_bytes()).unwrap();
                }
            }),
            "content/huge.md: the page is 20.0 MiB; pages may be at most 5 MiB",
        ),
        (
            "symlink loop",
            Box::new(|r: &Path| {
                std::fs::create_dir_all(r.join("content/loop")).unwrap();
                std::os::unix::fs::symlink("..", r.join("content/loop/back")).unwrap();
            }),
            "symbolic link loop",
        ),
    ];
    for (name, make, expected) in cases {
        let site = scratch_site();
        make(site.path());
        let o = build(site.path(), &site.path().join("public"));
        let err = stderr(&o);
        assert!(!o.status.success(), "{name}: build succeeded");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            err.contains(expected),
            "{name}: expected {expected:?} in\n{err}"
        );
        assert!(err.contains("help:"), "{name}: no help in\n{err}");
        let (ok, check_err) = check(site.path());
        assert!(
            !ok && check_err.contains(expected),
            "{name}: check says\n{check_err}"
        );
    }
}

struct Serve {
    child: Child,
    port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(root: &Path) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mdz"))
        .args(["serve", "--port", "0", "--root", root.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Serve { child, port }
}

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Polls until `pred` holds for the page, bounded so a broken watcher fails instead of hanging.
fn wait_for(port: u16, path: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = get(port, path);
        if pred(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last response:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_rebuilds_on_save_shows_errors_and_recovers() {
    let site = scratch_site();
    let root = site.path();
    let server = start_serve(root);
    let first = get(server.port, "/terms/");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        first.contains("EventSource('/__mdz/events')"),
        "served pages carry the reload hook"
    );
    // A folder without its slash is redirected within this site, however many slashes (or
    // backslashes, which browsers read as slashes) the path starts with: `Location: //terms/`
    // would send the browser to the host `terms`.
    for path in ["/terms", "//terms", "///terms", "/\\terms", "//\\terms"] {
        let r = get(server.port, path).to_ascii_lowercase();
        let location = r
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .map(str::to_string);
        if path.contains('\\') && r.starts_with("http/1.1 400") {
            continue;
        }
        assert!(r.starts_with("http/1.1 301"), "{path:?}: {r}");
        assert_eq!(location.as_deref(), Some("/terms/"), "{path:?}: {r}");
    }
    let on_disk = std::fs::read_to_string(root.join("public/terms/index.html")).unwrap();
    assert!(
        !on_disk.contains("<script"),
        "the reload hook must never reach public/"
    );

    let terms = read(root, "content/terms.md");
    write(
        root,
        "content/terms.md",
        &terms.replace(
            "## Last updated",
            "A sentence added while serving.\n\n## Last updated",
        ),
    );
    wait_for(server.port, "/terms/", "the edit", |p| {
        p.contains("A sentence added while serving.")
    });

    // A broken edit: the last good build stays, with the problem on top.
    write(root, "content/terms.md", "+++\ntitle = \"Terms\"\n");
    let broken = wait_for(server.port, "/terms/", "the error overlay", |p| {
        p.contains("id=mdz-error")
    });
    assert!(broken.contains("content/terms.md:1:1"), "{broken}");
    // The editor can fold it away without a script, and it takes at most a third of the screen.
    assert!(
        broken.contains("<details id=mdz-error open") && broken.contains("<summary"),
        "{broken}"
    );
    assert!(broken.contains("max-height:33vh"), "{broken}");
    assert!(
        broken.contains("A sentence added while serving."),
        "still the last good build"
    );

    // Fixing it recovers without a restart.
    write(root, "content/terms.md", &terms);
    let fixed = wait_for(server.port, "/terms/", "recovery", |p| {
        !p.contains("id=mdz-error") && !p.contains("A sentence added")
    });
    assert!(fixed.starts_with("HTTP/1.1 200"));
    let missing = get(server.port, "/nope/");
    assert!(
        missing.starts_with("HTTP/1.1 404") && missing.contains("Page not found"),
        "{missing}"
    );
}

#[test]
fn outside_the_project_check_names_a_flag_that_exists() {
    let empty = tempfile::tempdir().unwrap();
    let o = mdz(&["check", "--root", empty.path().to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("config.toml"), "{err}");
    assert!(
        err.contains("--root DIR"),
        "the hint must name mdz's own flag: {err}"
    );
    // The flag the hint names is one mdz has.
    let help = String::from_utf8_lossy(&mdz(&["check", "--help"]).stdout).into_owned();
    assert!(help.contains("--root"), "{help}");
}

#[test]
fn broken_front_matter_on_a_policy_page_is_reported_alone() {
    let site = scratch_site();
    let text = std::fs::read_to_string(site.path().join("content/privacy.md")).unwrap();
    let broken = text.replacen("title = \"", "title = \"Privacy\ndescription = \"", 1);
    write(site.path(), "content/privacy.md", &broken);
    let o = mdz(&["check", "--root", site.path().to_str().unwrap()]);
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("content/privacy.md:"), "{err}");
    assert!(err.contains("front matter"), "{err}");
    // The page is there; only its front matter is wrong. Nothing it caused is reported.
    assert!(
        !err.contains("missing") && !err.contains("no privacy policy"),
        "{err}"
    );
    assert!(err.contains("1 problem found"), "{err}");
}

#[test]
fn every_argument_of_every_command_says_what_it_is() {
    for cmd in ["build", "check", "serve"] {
        let help = String::from_utf8_lossy(&mdz(&[cmd, "--help"]).stdout).into_owned();
        for line in help.lines().filter(|l| l.trim_start().starts_with("--")) {
            let described = line.split(" [default").next().unwrap_or(line);
            // `--root <DIR>` alone is two words; a description makes it more.
            let words = described.split_whitespace().count();
            assert!(words > 2, "mdz {cmd}: {line:?} has no help text");
        }
    }
}

#[test]
fn check_warns_of_a_verification_file_name_nginx_would_not_serve() {
    let site = scratch_site();
    let root = site.path();
    let config = read(root, "config.toml");
    let with = |name: &str| {
        config.replacen(
            "# verification_file = \"tiktokXXXX.txt\"\n# verification_content = \"tiktok-developers-site-verification=XXXX\"",
            &format!("verification_file = \"{name}\"\nverification_content = \"tiktok-developers-site-verification=Ab12\""),
            1,
        )
    };
    assert_ne!(
        with("x"),
        config,
        "config.toml no longer has the commented verification lines"
    );
    write(root, "config.toml", &with("tiktok-Ab12.txt"));
    let (ok, err) = check(root);
    assert!(ok, "a warning, not a problem: {err}");
    let line = line_of(&read(root, "config.toml"), "verification_file =");
    assert!(
        err.contains(&format!(
            "warning: {}:{line}:",
            root.join("config.toml").display()
        )) && err.contains("`tiktok-Ab12.txt` is not a name deploy/nginx.conf serves"),
        "{err}"
    );
    write(root, "config.toml", &with("tiktokAb12.txt"));
    let (ok, err) = check(root);
    assert!(ok && !err.contains("verification_file"), "{err}");
}
