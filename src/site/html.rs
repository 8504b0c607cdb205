//! Small HTML helpers shared by the generator's passes: escaping, and element ids (made from
//! text, found in rendered pages). Both the Markdown pass and the glossary make ids, so the rule
//! lives here rather than in either of them.

pub use crate::escape::html as escape;

/// Every `id="…"` in rendered HTML: the anchors a link may point at, wherever they came from
/// (Markdown headings, footnotes, templates, glossary entries).
pub fn ids(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(" id=\"") {
        rest = &rest[i + 5..];
        if let Some(end) = rest.find('"') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// GitHub-style slug: lowercase letters and digits, other runs become one `-`.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else if c == '-' || c == '_' || c.is_whitespace() || c == '.' || c == '/' {
            dash = true;
        }
    }
    if out.is_empty() {
        "section".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_and_dashed() {
        assert_eq!(
            slug("What the TikTok integration collects"),
            "what-the-tiktok-integration-collects"
        );
        assert_eq!(slug("User choices and rights"), "user-choices-and-rights");
        assert_eq!(slug("open_id"), "open-id");
        assert_eq!(slug("user.info.basic"), "user-info-basic");
        assert_eq!(slug("  ?! "), "section");
    }
}
