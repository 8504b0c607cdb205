//! Benchmark corpus: the same N generated pages as an `mdz` site and as a Hugo site.
//!
//! ```sh
//! cargo run --release --example corpus -- --n 1000 --out target/bench/n1000
//! ```
//!
//! writes `OUT/mdz/` (the real `config.toml`, `templates/` and six real pages, glossary
//! included, plus `content/page-0.md` … `page-{N-1}.md`) and `OUT/hugo/` (the same pages with
//! `+++` TOML front matter, plain `/page-17/#section-2` links, and a minimal layout equivalent
//! to `templates/page.html` + `base.html`). Each page has front matter, headings with ids,
//! prose, lists, a table, a quote, links to other pages' sections (all valid: the `mdz` build
//! stops on a broken link) and abbreviations and terms from the real glossary. `mdz` links the
//! first use of each glossary entry itself; Hugo has no such feature, so its copy carries those
//! links already written as HTML, and both outputs hold the same links.
//!
//! Everything is deterministic: the same N gives the same bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mdz::site::html::slug;
use mdz::site::load::url_for;

fn main() {
    let mut n: Option<usize> = None;
    let mut out: Option<PathBuf> = None;
    let mut repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--n" => {
                n = args
                    .next()
                    .and_then(|v| v.replace(['_', ','], "").parse().ok())
            }
            "--out" => out = args.next().map(PathBuf::from),
            "--repo" => repo = args.next().map(PathBuf::from).unwrap_or(repo),
            _ => usage(),
        }
    }
    let (Some(n), Some(out)) = (n, out) else {
        usage()
    };
    if n == 0 {
        usage()
    }
    let glossary = Glossary::read(&repo);
    if out.exists() {
        std::fs::remove_dir_all(&out).unwrap_or_else(|e| die(&out, e));
    }
    write_mdz(&repo, &out.join("mdz"), n, &glossary);
    write_hugo(&repo, &out.join("hugo"), n, &glossary);
    println!(
        "wrote {n} generated pages (+6 real ones) for mdz and Hugo into {}",
        out.display()
    );
}

fn usage() -> ! {
    eprintln!("usage: corpus --n N --out DIR [--repo PATH]");
    std::process::exit(2)
}

fn die(path: &Path, e: impl std::fmt::Display) -> ! {
    eprintln!("error: {}: {e}", path.display());
    std::process::exit(1)
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| die(dir, e));
    }
    std::fs::write(path, text).unwrap_or_else(|e| die(path, e));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| die(path, e))
}

const REAL_PAGES: [&str; 6] = [
    "index.md",
    "privacy.md",
    "terms.md",
    "support.md",
    "glossary.md",
    "404.md",
];

/// Sections every generated page has, so any `#section-K` link to any page resolves.
const SECTIONS: [&str; 4] = ["Overview", "Steps", "Details", "Related pages"];

// ---------------------------------------------------------------------------------------------
// The glossary, as the real content/glossary.md defines it.

struct Entry {
    term: String,
    abbr: Option<String>,
    definition: String,
    aliases: Vec<String>,
    id: String,
}

impl Entry {
    /// What the page text says: the abbreviation when there is one.
    fn word(&self) -> &str {
        self.abbr.as_deref().unwrap_or(&self.term)
    }

    /// The link `mdz` makes of the first use (see `Glossary::annotate`), for the Hugo copy.
    fn link(&self) -> String {
        let href = format!("/glossary/#{}", self.id);
        match &self.abbr {
            Some(a) => {
                let title = if *a == self.term {
                    &self.definition
                } else {
                    &self.term
                };
                format!(
                    "<a class=\"gl\" href=\"{href}\"><abbr title=\"{}\">{}</abbr></a>",
                    escape(title),
                    escape(a)
                )
            }
            None => format!("<a class=\"gl\" href=\"{href}\">{}</a>", escape(&self.term)),
        }
    }
}

struct Glossary {
    /// Every entry of the real glossary (the Hugo copy of glossary.md lists them all).
    all: Vec<Entry>,
    /// Entries the generated pages mention: plain words that no other entry overlaps.
    usable: Vec<usize>,
}

impl Glossary {
    fn read(repo: &Path) -> Glossary {
        let path = repo.join("content/glossary.md");
        let text = read(&path);
        let front = text
            .strip_prefix("+++\n")
            .and_then(|t| t.split_once("\n+++\n"))
            .map(|(f, _)| f)
            .unwrap_or_else(|| die(&path, "no +++ front matter"));
        let value: toml::Table = toml::from_str(front).unwrap_or_else(|e| die(&path, e));
        let s = |t: &toml::Table, k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let all: Vec<Entry> = value
            .get("glossary")
            .and_then(|g| g.as_array())
            .unwrap_or_else(|| die(&path, "no [[glossary]] entries"))
            .iter()
            .filter_map(|e| e.as_table())
            .map(|t| {
                let term = s(t, "term").unwrap_or_default();
                let abbr = s(t, "abbr");
                let id = s(t, "id").unwrap_or_else(|| slug(abbr.as_deref().unwrap_or(&term)));
                Entry {
                    definition: s(t, "definition").unwrap_or_default(),
                    aliases: t
                        .get("aliases")
                        .and_then(|a| a.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    term,
                    abbr,
                    id,
                }
            })
            .collect();
        let plain = |w: &str| w.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ');
        let usable = (0..all.len())
            .filter(|&i| {
                let w = all[i].word();
                plain(w)
                    && !all.iter().enumerate().any(|(j, o)| {
                        j != i
                            && std::iter::once(&o.term)
                                .chain(&o.abbr)
                                .chain(&o.aliases)
                                .any(|p| {
                                    let (p, w) = (p.to_lowercase(), w.to_lowercase());
                                    p.contains(&w) || w.contains(&p)
                                })
                    })
            })
            .collect::<Vec<_>>();
        if usable.len() < 8 {
            die(&path, "fewer than 8 usable glossary entries");
        }
        Glossary { all, usable }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

// ---------------------------------------------------------------------------------------------
// Generated pages.

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Mdz,
    Hugo,
}

/// SplitMix64: small, deterministic, good enough to spread links.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOPICS: [&str; 8] = [
    "upload checklist",
    "review order",
    "file naming",
    "support replies",
    "weekly summary",
    "handover",
    "archive rules",
    "team calendar",
];

/// Prose free of glossary words and capitalised abbreviations, so the only glossary links are
/// the deliberate ones below.
const SENTENCES: [&str; 10] = [
    "The team reviews each request before the next step starts.",
    "Every change is written down so that the next person can follow it.",
    "A short note explains what was done and why.",
    "Questions go to the shared address, and answers come back within a working day.",
    "Nothing leaves the workflow until a person has checked it.",
    "Older notes stay available for reference, and nobody edits them after the fact.",
    "Each step names who does it and how long it usually takes.",
    "When something is unclear, the reviewer asks before going on.",
    "Mistakes are fixed in the open, with a line saying what changed.",
    "The same steps apply on busy weeks and quiet ones.",
];

fn title(i: usize) -> String {
    format!("Workflow note {i}: {}", TOPICS[i % TOPICS.len()])
}

fn link(flavor: Flavor, page: usize, section: usize) -> String {
    match flavor {
        Flavor::Mdz => format!("@/page-{page}.md#section-{section}"),
        Flavor::Hugo => format!("/page-{page}/#section-{section}"),
    }
}

fn real_link(flavor: Flavor, rel: &str, anchor: &str) -> String {
    match flavor {
        Flavor::Mdz => format!("@/{rel}#{anchor}"),
        Flavor::Hugo => format!("{}#{anchor}", url_for(rel).0),
    }
}

fn generated_page(i: usize, n: usize, g: &Glossary, flavor: Flavor) -> String {
    let mut rng = Rng(i as u64);
    let mut used = vec![false; g.all.len()];
    // Six glossary entries per page, each mentioned twice: the first use links, the second not.
    let picks: Vec<usize> = (0..6)
        .map(|k| g.usable[(i * 7 + k * 5) % g.usable.len()])
        .collect();
    let mut mention = |k: usize| -> String {
        let e = &g.all[picks[k % picks.len()]];
        if flavor == Flavor::Hugo && !used[picks[k % picks.len()]] {
            used[picks[k % picks.len()]] = true;
            e.link()
        } else {
            e.word().to_string()
        }
    };
    let prose = |rng: &mut Rng, count: usize| -> String {
        (0..count)
            .map(|_| SENTENCES[rng.below(SENTENCES.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    let other = |rng: &mut Rng| -> (usize, usize) { (rng.below(n), 1 + rng.below(4)) };

    let mut s = String::with_capacity(4096);
    let topic = TOPICS[i % TOPICS.len()];
    let _ = write!(
        s,
        "+++\ntitle = \"{}\"\ndescription = \"Notes on the {topic} for the review team, part {i}.\"\nupdated = 2026-05-02\n+++\n\n",
        title(i)
    );
    let (p, k) = other(&mut rng);
    let _ = writeln!(
        s,
        "This note covers the {topic}. {} It uses the {} and the {}, and it follows [workflow note {p}]({}).\n",
        prose(&mut rng, 2),
        mention(0),
        mention(1),
        link(flavor, p, k)
    );
    let _ = writeln!(s, "## {} {{#section-1}}\n", SECTIONS[0]);
    let _ = writeln!(s, "{}\n", prose(&mut rng, 4));
    let _ = writeln!(s, "{}\n", prose(&mut rng, 3));
    let _ = writeln!(s, "- This step involves the {}.", mention(2));
    let _ = writeln!(s, "- {}", prose(&mut rng, 1));
    let _ = writeln!(s, "- Check the {} before anything else.", mention(3));
    let _ = writeln!(s, "- {}\n", prose(&mut rng, 1));

    let _ = writeln!(s, "## {} {{#section-2}}\n", SECTIONS[1]);
    let _ = writeln!(s, "{}\n", prose(&mut rng, 2));
    for step in 1..=4 {
        let _ = writeln!(s, "{step}. {}", prose(&mut rng, 1));
    }
    s.push('\n');
    s.push_str("| Step | Owner | Typical time | Notes |\n| --- | --- | --- | --- |\n");
    for step in 1..=5 {
        let owner = ["reviewer", "editor", "support team"][rng.below(3)];
        let _ = writeln!(
            s,
            "| {step} | {owner} | {} minutes | {} |",
            5 + rng.below(40),
            if step == 3 {
                format!("uses the {}", mention(4))
            } else {
                "none".to_string()
            }
        );
    }
    s.push('\n');

    let _ = writeln!(s, "## {} {{#section-3}}\n", SECTIONS[2]);
    let _ = writeln!(s, "### Background\n");
    let (p, k) = other(&mut rng);
    let _ = writeln!(
        s,
        "{} The {} is described in [workflow note {p}]({}), and again here: {} and {} mean the same as above. {}\n",
        prose(&mut rng, 2),
        mention(5),
        link(flavor, p, k),
        mention(0),
        mention(2),
        prose(&mut rng, 2),
    );
    let _ = writeln!(s, "> {}\n", prose(&mut rng, 2));
    let _ = writeln!(s, "### Exceptions\n");
    let _ = writeln!(
        s,
        "{} Records are kept as the [privacy policy]({}) describes.\n",
        prose(&mut rng, 3),
        real_link(flavor, "privacy.md", "retention")
    );

    let _ = writeln!(s, "## {} {{#section-4}}\n", SECTIONS[3]);
    for _ in 0..5 {
        let (p, k) = other(&mut rng);
        let _ = writeln!(
            s,
            "- [{}, {}]({})",
            title(p),
            SECTIONS[k - 1].to_lowercase(),
            link(flavor, p, k)
        );
    }
    let _ = writeln!(
        s,
        "- [{}]({})",
        g.all[picks[1]].term,
        real_link(flavor, "glossary.md", &g.all[picks[1]].id)
    );
    s
}

// ---------------------------------------------------------------------------------------------
// The mdz site.

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap_or_else(|e| die(from, e));
        let rel = entry.path().strip_prefix(from).unwrap_or(entry.path());
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap_or_else(|e| die(&dest, e));
        } else {
            std::fs::copy(entry.path(), &dest).unwrap_or_else(|e| die(&dest, e));
        }
    }
}

fn write_mdz(repo: &Path, site: &Path, n: usize, g: &Glossary) {
    std::fs::create_dir_all(site).unwrap_or_else(|e| die(site, e));
    std::fs::copy(repo.join("config.toml"), site.join("config.toml"))
        .unwrap_or_else(|e| die(&repo.join("config.toml"), e));
    copy_dir(&repo.join("templates"), &site.join("templates"));
    for rel in REAL_PAGES {
        let text = read(&repo.join("content").join(rel));
        write(&site.join("content").join(rel), &text);
    }
    for i in 0..n {
        write(
            &site.join(format!("content/page-{i}.md")),
            &generated_page(i, n, g, Flavor::Mdz),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The Hugo site.

/// `(@/privacy.md#retention)` -> `(/privacy/#retention)` in a real page.
fn plain_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("](@/") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 4..];
        let end = rest.find(')').unwrap_or(rest.len());
        let target = &rest[..end];
        let (file, anchor) = match target.split_once('#') {
            Some((f, a)) => (f, Some(a)),
            None => (target, None),
        };
        out.push_str(&url_for(file).0);
        if let Some(a) = anchor {
            out.push('#');
            out.push_str(a);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn write_hugo(repo: &Path, site: &Path, n: usize, g: &Glossary) {
    let config = read(&repo.join("config.toml"));
    let cfg: toml::Table =
        toml::from_str(&config).unwrap_or_else(|e| die(&repo.join("config.toml"), e));
    let site_cfg = cfg.get("site").and_then(|s| s.as_table());
    let get = |k: &str| {
        site_cfg
            .and_then(|s| s.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (base_url, title, language, contact) = (
        get("base_url"),
        get("title"),
        get("language"),
        get("contact"),
    );
    let mut nav = String::new();
    for item in mdz::chrome::NAV.iter() {
        let _ = write!(
            nav,
            "\n[[params.nav]]\nlabel = {}\nhref = {}\n",
            toml_str(item.label),
            toml_str(item.href)
        );
    }
    write(
        &site.join("hugo.toml"),
        &format!(
            r#"baseURL = {base}
languageCode = {lang}
title = {title}
# The mdz site has no feeds, taxonomies or generated 404 page; Hugo makes none either.
disableKinds = ["taxonomy", "term", "RSS", "404"]
enableRobotsTXT = true

[markup.goldmark.renderer]
# The glossary links mdz adds itself are written as HTML in this copy.
unsafe = true

[params]
contact = {contact}
{nav}"#,
            base = toml_str(&base_url),
            lang = toml_str(&language),
            title = toml_str(&title),
            contact = toml_str(&contact),
        ),
    );
    // Same markup as templates/base.html + page.html, in Go templates.
    write(
        &site.join("layouts/_default/baseof.html"),
        r##"<!DOCTYPE html>
<html lang="{{ .Site.LanguageCode }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ if in .Title .Site.Title }}{{ .Title }}{{ else }}{{ .Title }} · {{ .Site.Title }}{{ end }}</title>
<meta name="description" content="{{ .Description }}">
{{ if ne .RelPermalink "/404.html" }}<link rel="canonical" href="{{ .Permalink }}">{{ end }}
<meta name="color-scheme" content="light dark">
<style>{{ partialCached "style.html" . | safeCSS }}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site"><div class="wrap">
<a class="brand" href="/">{{ .Site.Title }}</a>
<nav aria-label="Site"><ul>
{{ $path := .RelPermalink }}{{ range .Site.Params.nav }}<li><a href="{{ .href }}"{{ if eq .href $path }} aria-current="page"{{ end }}>{{ .label }}</a></li>
{{ end }}</ul></nav>
</div></header>
<main id="main" class="wrap">
{{ block "main" . }}{{ end }}
</main>
<footer class="site"><div class="wrap">
<p><a href="/privacy/">Privacy Policy</a> · <a href="/terms/">Terms of Use</a> · <a href="/support/">Support</a> · Contact: <a href="mailto:{{ .Site.Params.contact }}">{{ .Site.Params.contact }}</a></p>
<p>{{ .Site.Title }} hands approved videos to TikTok as drafts only; posting stays with the account owner inside TikTok.</p>
</div></footer>
</body>
</html>
"##,
    );
    let single = "{{ define \"main\" }}\n<article>\n<h1>{{ .Title }}</h1>\n{{ .Content }}\n</article>\n{{ end }}\n";
    write(&site.join("layouts/_default/single.html"), single);
    write(&site.join("layouts/index.html"), single);
    write(
        &site.join("layouts/_default/glossary.html"),
        r#"{{ define "main" }}
<article>
<h1>{{ .Title }}</h1>
{{ .Content }}
<dl class="glossary">
{{ range .Params.glossary }}<dt id="{{ .id }}">{{ if and .abbr (ne .abbr .term) }}{{ .term }} (<abbr>{{ .abbr }}</abbr>){{ else }}{{ .term }}{{ end }}</dt>
<dd>{{ .definition }}</dd>
{{ end }}</dl>
</article>
{{ end }}
"#,
    );
    write(
        &site.join("layouts/partials/style.html"),
        &read(&repo.join("templates/style.css")),
    );
    write(
        &site.join("static/.well-known/security.txt"),
        &format!(
            "Contact: mailto:{contact}\nExpires: {}\nCanonical: {base_url}.well-known/security.txt\nPreferred-Languages: {language}\n",
            site_cfg
                .and_then(|s| s.get("security_txt_expires"))
                .map(|v| v.to_string())
                .unwrap_or_default()
        ),
    );

    let content = site.join("content");
    for rel in REAL_PAGES {
        let text = plain_links(&read(&repo.join("content").join(rel)));
        let (front, body) = text
            .strip_prefix("+++\n")
            .and_then(|t| t.split_once("\n+++\n"))
            .unwrap_or_else(|| die(&repo.join("content").join(rel), "no front matter"));
        let (dest, front) = match rel {
            "index.md" => ("_index.md", front.to_string()),
            "404.md" => ("404.md", format!("{front}\nurl = \"/404.html\"")),
            "glossary.md" => {
                // Hugo cannot compute mdz's ids, so every entry gets its id written out.
                let head = front.split("\n[[glossary]]").next().unwrap_or(front);
                let mut f = format!("{head}\nlayout = \"glossary\"\n");
                for e in &g.all {
                    let _ = write!(
                        f,
                        "\n[[glossary]]\nid = {}\nterm = {}\n",
                        toml_str(&e.id),
                        toml_str(&e.term)
                    );
                    if let Some(a) = &e.abbr {
                        let _ = writeln!(f, "abbr = {}", toml_str(a));
                    }
                    let _ = writeln!(f, "definition = {}", toml_str(&e.definition));
                }
                ("glossary.md", f)
            }
            other => (other, front.to_string()),
        };
        write(&content.join(dest), &format!("+++\n{front}\n+++\n{body}"));
    }
    for i in 0..n {
        write(
            &content.join(format!("page-{i}.md")),
            &generated_page(i, n, g, Flavor::Hugo),
        );
    }
}
