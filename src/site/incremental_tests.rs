//! `mdz serve`'s incremental rebuilds ([`Site::update`]) must end exactly where a full build
//! of the same files ends: the same output bytes, or the same problems. Every step below edits
//! the scratch site, updates a kept site with the one changed path, and compares it with a
//! fresh [`Site::load`].

use std::path::{Path, PathBuf};

use super::{Site, Update};

fn scratch_site() -> tempfile::TempDir {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo.join("config.toml"), dir.path().join("config.toml")).unwrap();
    for folder in ["content", "templates"] {
        for entry in walkdir::WalkDir::new(repo.join(folder)) {
            let entry = entry.unwrap();
            let dest = dir.path().join(entry.path().strip_prefix(&repo).unwrap());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&dest).unwrap();
            } else {
                std::fs::copy(entry.path(), &dest).unwrap();
            }
        }
    }
    dir
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The build's result as comparable text: every file with its bytes, or every problem.
fn outcome(site: &Site) -> Result<Vec<(String, Vec<u8>)>, String> {
    site.output()
        .map(|o| {
            o.files()
                .iter()
                .map(|(k, v)| (k.clone(), v.to_vec()))
                .collect()
        })
        .map_err(|p| p.to_string())
}

/// Updates `kept` with `rel`, checks it was taken in page by page, and that it now agrees with
/// a full build. Returns the problems, if any.
fn step(root: &Path, kept: &mut Site, rel: &str) -> Result<(), String> {
    assert_eq!(
        kept.update([Path::new(rel)]),
        Update::Pages(1),
        "{rel} should rebuild alone"
    );
    let full = Site::load(root).expect("config and templates load");
    let (incremental, full) = (outcome(kept), outcome(&full));
    assert!(
        incremental == full,
        "after {rel}, the incremental build differs from a full one:\nincremental: {}\nfull: {}",
        describe(&incremental),
        describe(&full)
    );
    incremental.map(|_| ())
}

fn describe(o: &Result<Vec<(String, Vec<u8>)>, String>) -> String {
    match o {
        Ok(files) => format!("{} files", files.len()),
        Err(p) => p.clone(),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn removing_an_anchor_other_pages_link_to_is_caught_and_fixing_it_clears() {
    let site = scratch_site();
    let root = site.path();
    let mut kept = Site::load(root).unwrap();
    assert!(kept.output().is_ok());
    // Only privacy.md changes; the broken links are in support.md, which is not re-rendered.
    let privacy = read(root, "content/privacy.md");
    write(
        root,
        "content/privacy.md",
        &privacy.replace("## Retention", "## Keeping records"),
    );
    let problems = step(root, &mut kept, "content/privacy.md").unwrap_err();
    let support = read(root, "content/support.md");
    let line = line_of(&support, "@/privacy.md#retention");
    assert!(
        problems.contains(&format!("content/support.md:{line}:"))
            && problems.contains("/privacy/ has no anchor #retention")
            && problems.contains("#keeping-records"),
        "{problems}"
    );
    // The anchor comes back: the links are fine again without touching support.md.
    write(root, "content/privacy.md", &privacy);
    step(root, &mut kept, "content/privacy.md").unwrap();
}

#[test]
fn every_kind_of_page_edit_ends_where_a_full_build_ends() {
    let site = scratch_site();
    let root = site.path();
    let mut kept = Site::load(root).unwrap();
    let terms = read(root, "content/terms.md");
    let support = read(root, "content/support.md");

    // A body edit.
    write(
        root,
        "content/terms.md",
        &terms.replace("## Last updated", "One more sentence.\n\n## Last updated"),
    );
    step(root, &mut kept, "content/terms.md").unwrap();

    // A new page with a good and a bad link, then fixed.
    let new = "+++\ntitle = \"New\"\ndescription = \"A new page.\"\nupdated = 2026-05-02\n+++\n\n## Start\n\nSee [terms](@/terms.md) and [nothing](@/nowhere.md#x) and [self](#start).\n";
    write(root, "content/new.md", new);
    let problems = step(root, &mut kept, "content/new.md").unwrap_err();
    let line = line_of(new, "@/nowhere.md");
    assert!(
        problems.contains(&format!("content/new.md:{line}:")),
        "{problems}"
    );
    write(
        root,
        "content/new.md",
        &new.replace("@/nowhere.md#x", "@/new.md#start"),
    );
    step(root, &mut kept, "content/new.md").unwrap();

    // A link into the new page, then the new page removed: the link now leads nowhere.
    write(
        root,
        "content/support.md",
        &support.replace(
            "## What to expect",
            "See [new](@/new.md#start).\n\n## What to expect",
        ),
    );
    step(root, &mut kept, "content/support.md").unwrap();
    std::fs::remove_file(root.join("content/new.md")).unwrap();
    let problems = step(root, &mut kept, "content/new.md").unwrap_err();
    assert!(
        problems.contains("content/support.md:") && problems.contains("leads to no page"),
        "{problems}"
    );
    write(root, "content/support.md", &support);
    step(root, &mut kept, "content/support.md").unwrap();

    // A page that no longer loads: its own problem, and links to it are not reported twice.
    write(root, "content/terms.md", "+++\ntitle = \"Terms\"\n");
    let problems = step(root, &mut kept, "content/terms.md").unwrap_err();
    assert!(problems.contains("never closed"), "{problems}");
    write(root, "content/terms.md", &terms);
    step(root, &mut kept, "content/terms.md").unwrap();

    // Removing a policy page, and bringing it back.
    std::fs::remove_file(root.join("content/support.md")).unwrap();
    let problems = step(root, &mut kept, "content/support.md").unwrap_err();
    assert!(
        problems.contains("this policy page is missing"),
        "{problems}"
    );
    write(root, "content/support.md", &support);
    step(root, &mut kept, "content/support.md").unwrap();

    // A second page at the same URL.
    write(root, "content/terms/index.md", &terms);
    let problems = step(root, &mut kept, "content/terms/index.md").unwrap_err();
    assert!(
        problems.contains("would both be published at /terms/"),
        "{problems}"
    );
}

#[test]
fn changes_beyond_single_pages_ask_for_a_full_build() {
    let site = scratch_site();
    let root = site.path();
    let mut kept = Site::load(root).unwrap();
    for rel in [
        "config.toml",
        "templates/page.html",
        "content/glossary.md",
        "content",
    ] {
        assert_eq!(kept.update([Path::new(rel)]), Update::Full, "{rel}");
    }
    std::fs::create_dir_all(root.join("content/docs")).unwrap();
    assert_eq!(kept.update([Path::new("content/docs")]), Update::Full);
    // The output folder, its spare, editor backups: not input, nothing to do.
    for rel in [
        "public/terms/index.html",
        ".public.mdz-spare",
        "content/terms.md~",
        "content/.terms.md.swp",
    ] {
        assert_eq!(kept.update([Path::new(rel)]), Update::Pages(0), "{rel}");
    }
    // Absolute paths below the root work too.
    let abs = root.join("content/terms.md");
    assert_eq!(kept.update([abs.as_path()]), Update::Pages(1));
}
