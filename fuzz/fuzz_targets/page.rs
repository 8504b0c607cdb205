//! Any text an editor could save as `content/x.md` goes through front matter, Markdown, the
//! glossary pass and link collection without panicking, and every reported position lies in
//! the file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mdz::site::glossary::Glossary;
use mdz::site::load::parse_page;
use mdz::site::markdown;

const GLOSSARY: &str = "+++\ntitle = \"Glossary\"\ndescription = \"d\"\nupdated = 2026-05-02\n\n[[glossary]]\nterm = \"application programming interface\"\nabbr = \"API\"\ndefinition = \"d\"\n\n[[glossary]]\nterm = \"Login Kit\"\ndefinition = \"d\"\naliases = [\"login kits\"]\n\n[[glossary]]\nterm = \"DOCX\"\nabbr = \"DOCX\"\ndefinition = \"d\"\n+++\nIntro.\n";

fn glossary() -> &'static Glossary {
    static G: OnceLock<Glossary> = OnceLock::new();
    G.get_or_init(|| {
        let page = parse_page(PathBuf::from("content/glossary.md"), "glossary.md".into(), GLOSSARY.into())
            .expect("the fixed glossary parses");
        let mut problems = Vec::new();
        let g = Glossary::from_page(&page, &mut problems);
        assert!(problems.is_empty());
        g
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.lines().count().max(1) + 1;
    match parse_page(PathBuf::from("content/x.md"), "x.md".into(), text.to_string()) {
        Ok(page) => {
            let rendered = markdown::render(&page, glossary(), true);
            for link in &rendered.links {
                assert!(page.location(link.offset).line <= lines);
            }
            for (offset, _) in &rendered.unknown_abbreviations {
                assert!(*offset <= text.len());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
