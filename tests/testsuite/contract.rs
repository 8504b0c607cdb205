//! Every `§` that the code and the docs cite resolves in the repository's own account of
//! TikTok's contract, `docs/tiktok-contract.md`, on a fresh clone: nothing may point at a
//! section that does not exist, or at a file outside the repository.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::repo;

const CONTRACT: &str = "docs/tiktok-contract.md";

/// Section numbers of the contract's headings: `## §13 Webhooks` gives "13",
/// `### §16.7 What "MB" means` gives "16.7".
fn sections(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("## §") || l.starts_with("### §"))
        .filter_map(|l| l.split('§').nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Every `§N` or `§N.M` in `text`, with its line number.
fn citations(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for rest in line.split('§').skip(1) {
            let rest = rest.trim_start();
            let number: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let number = number.trim_end_matches('.');
            if !number.is_empty() {
                found.push((i + 1, number.to_string()));
            }
        }
    }
    found
}

fn cited_files(root: &Path) -> Vec<std::path::PathBuf> {
    let skip = [
        "target",
        ".git",
        "node_modules",
        "public",
        "artifacts",
        "corpus",
    ];
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            !(e.file_type().is_dir() && (skip.contains(&name.as_ref()) || name.starts_with('.')))
        })
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            ["rs", "md", "toml", "sh", "conf", "mjs"].contains(&ext)
                || p.starts_with(root.join("scripts"))
        })
        .filter(|p| !p.ends_with(CONTRACT))
        .collect()
}

#[test]
fn every_cited_section_exists_in_the_contract() {
    let root = repo();
    let contract = std::fs::read_to_string(root.join(CONTRACT)).unwrap();
    let have = sections(&contract);
    for must in ["2", "2.3", "5", "8", "10", "13", "16.7"] {
        assert!(have.contains(must), "{CONTRACT} lost its §{must} heading");
    }
    let mut broken = Vec::new();
    let mut cited = 0;
    for path in cited_files(&root) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        if text.contains("tiktok-api.md") && rel != "tests/testsuite/contract.rs" {
            broken.push(format!(
                "{rel}: names tiktok-api.md, which is not in the repository; cite {CONTRACT}"
            ));
        }
        for (line, number) in citations(&text) {
            cited += 1;
            if !have.contains(&number) {
                broken.push(format!(
                    "{rel}:{line}: §{number} is not a heading of {CONTRACT}"
                ));
            }
        }
    }
    assert!(
        cited > 30,
        "only {cited} citations found: is the walk looking in the right place?"
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn citations_and_sections_are_read_as_written() {
    assert_eq!(
        citations("see §7–§10 and (§16.7). § 3"),
        [
            (1, "7".into()),
            (1, "10".into()),
            (1, "16.7".into()),
            (1, "3".into())
        ]
    );
    let s = sections("## §2 Authorization\n### §2.3 PKCE\n#### §9 deeper\ntext §4\n");
    assert_eq!(s, BTreeSet::from(["2".to_string(), "2.3".to_string()]));
}
