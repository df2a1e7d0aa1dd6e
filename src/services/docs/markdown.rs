//! Articles from Markdown: CommonMark with GitHub's tables, task lists and strikethrough
//! (pulldown-cmark), headings given stable ids for anchors, code fences marked with their
//! language (the page highlights them), then sanitized (ammonia) — what an author writes can
//! never add a script, a style, an event handler or a `javascript:` link.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;

/// A heading of an article, for its table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heading {
    /// 1 to 6.
    pub level: u8,
    /// Its anchor (`#id`).
    pub id: String,
    /// Its text.
    pub text: String,
}

/// An article rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    /// Sanitized HTML.
    pub html: String,
    /// Its headings, in order.
    pub headings: Vec<Heading>,
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH
}

/// `Getting started!` → `getting-started`; empty for a heading without letters or digits.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if (c.is_whitespace() || c == '-' || c == '_') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(80).collect()
}

fn level_number(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The sanitizer: ammonia's safe defaults, plus heading ids, code languages, task-list boxes;
/// links open without the opener and tell search engines nothing.
fn sanitizer() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::default();
    b.add_tags(["input"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tag_attributes("h1", ["id"])
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .add_tag_attributes("h4", ["id"])
        .add_tag_attributes("h5", ["id"])
        .add_tag_attributes("h6", ["id"])
        .add_allowed_classes("code", LANGUAGES.iter().map(|l| LANGUAGE_CLASSES[*l]))
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("input", "type") if value != "checkbox" => None,
            // An image loads by itself for every reader: only an upload or an https address,
            // never one of Uma's own routes (it would act as the reader).
            ("img", "src")
                if !(value.starts_with("/uploads/") || value.starts_with("https://")) =>
            {
                None
            }
            _ => Some(value.into()),
        })
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(HashSet::from(["http", "https", "mailto"]));
    b
}

/// Languages whose fences keep their class (the page's highlighter knows them).
const LANGUAGES: &[&str] = &[
    "bash",
    "sh",
    "shell",
    "console",
    "json",
    "yaml",
    "yml",
    "toml",
    "ini",
    "rust",
    "python",
    "javascript",
    "js",
    "typescript",
    "ts",
    "go",
    "sql",
    "dockerfile",
    "nginx",
    "xml",
    "html",
    "css",
    "diff",
    "powershell",
    "text",
];

static LANGUAGE_CLASSES: std::sync::LazyLock<HashMap<&'static str, &'static str>> =
    std::sync::LazyLock::new(|| {
        LANGUAGES
            .iter()
            .map(|l| (*l, &*Box::leak(format!("language-{l}").into_boxed_str())))
            .collect()
    });

static SANITIZER: std::sync::LazyLock<ammonia::Builder<'static>> =
    std::sync::LazyLock::new(sanitizer);

/// Renders an article.
pub fn render(markdown: &str) -> Rendered {
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options()).collect();
    // Each heading's text, then a unique id from it.
    let mut headings = Vec::new();
    let mut used: HashSet<String> = HashSet::new();
    let mut current: Option<(u8, String)> = None;
    for e in &events {
        match e {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((level_number(*level), String::new()));
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text)) = current.take() {
                    // Prefixed, so no heading can take the id of an element of the page itself
                    // (`uma-boot`, `taskbar`, `announcer`…).
                    let base = match slug(&text) {
                        s if s.is_empty() => "doc-section".to_owned(),
                        s => format!("doc-{s}"),
                    };
                    let mut id = base.clone();
                    let mut n = 0;
                    while used.contains(&id) {
                        n += 1;
                        id = format!("{base}-{n}");
                    }
                    used.insert(id.clone());
                    headings.push(Heading {
                        level,
                        id,
                        text: text.trim().to_owned(),
                    });
                }
            }
            _ => {}
        }
    }
    let mut ids = headings.iter().map(|h| h.id.clone());
    let events = events.into_iter().map(|e| match e {
        Event::Start(Tag::Heading {
            level,
            classes,
            attrs,
            ..
        }) => Event::Start(Tag::Heading {
            level,
            id: ids.next().map(CowStr::from),
            classes,
            attrs,
        }),
        // Raw HTML in the source is shown as text, never interpreted.
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut raw = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut raw, events);
    Rendered {
        html: SANITIZER.clean(&raw).to_string(),
        headings,
    }
}

/// The first words of an article's prose as plain text, for lists and search results: its
/// paragraphs and list items, not its headings, tables or code blocks.
pub fn excerpt(markdown: &str, max_chars: usize) -> String {
    let mut out = String::new();
    // Depth inside what is left out.
    let mut skipped = 0usize;
    let mut in_file_link = false;
    for e in Parser::new_ext(markdown, options()) {
        match e {
            // Headings, tables, code, pictures and attached files are not prose.
            Event::Start(
                Tag::Heading { .. } | Tag::Table(_) | Tag::CodeBlock(_) | Tag::Image { .. },
            ) => skipped += 1,
            Event::Start(Tag::Link { ref dest_url, .. }) if dest_url.starts_with("/uploads/") => {
                in_file_link = true
            }
            Event::End(TagEnd::Heading(_) | TagEnd::Table | TagEnd::CodeBlock | TagEnd::Image) => {
                skipped = skipped.saturating_sub(1);
            }
            // Links do not nest: this closes the file's link.
            Event::End(TagEnd::Link) => in_file_link = false,
            Event::Text(t) | Event::Code(t) if skipped == 0 && !in_file_link => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak if skipped == 0 => out.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Item) if skipped == 0 => out.push(' '),
            _ => {}
        }
        if out.chars().count() > max_chars {
            break;
        }
    }
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > max_chars {
        let cut: String = out.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfm_renders_and_headings_get_unique_ids() {
        let r = render(
            "# Getting started!\n\n## Setup\n\n## Setup\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n~~old~~\n\n```bash\nls -l\n```\n",
        );
        assert!(
            r.html.contains(r#"<h1 id="doc-getting-started">"#),
            "{}",
            r.html
        );
        assert!(r.html.contains(r#"<h2 id="doc-setup-1">"#), "{}", r.html);
        assert!(
            r.html.contains("<table>") && r.html.contains("<td>1</td>"),
            "{}",
            r.html
        );
        assert!(
            r.html
                .contains(r#"<li><input disabled="" type="checkbox" checked="">"#),
            "{}",
            r.html
        );
        assert!(
            r.html
                .contains(r#"<li><input disabled="" type="checkbox">"#),
            "{}",
            r.html
        );
        assert!(r.html.contains("<del>old</del>"), "{}", r.html);
        assert!(
            r.html.contains(r#"<code class="language-bash">"#),
            "{}",
            r.html
        );
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["doc-getting-started", "doc-setup", "doc-setup-1"]);
        // A heading named like the suffix of an earlier one still gets its own id.
        let r = render("## Setup\n## Setup\n## Setup 1\n## Uma boot\n## Taskbar");
        let ids: Vec<&str> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "doc-setup",
                "doc-setup-1",
                "doc-setup-1-1",
                "doc-uma-boot",
                "doc-taskbar"
            ]
        );
    }

    #[test]
    fn nothing_an_author_writes_can_run() {
        let r = render(
            "<script>alert(1)</script>\n\n[x](javascript:alert(1)) <img src=x onerror=alert(1)> ![i](data:text/html,x)\n\n```evil\" onmouseover=\"x\ncode\n```\n",
        );
        assert!(!r.html.contains("<script"), "{}", r.html);
        assert!(!r.html.contains("javascript:"), "{}", r.html);
        assert!(!r.html.contains("<img src=\"x\""), "{}", r.html);
        assert!(
            !r.html.contains("onerror=\"") && !r.html.contains("onmouseover=\""),
            "{}",
            r.html
        );
        assert!(!r.html.contains("data:text"), "{}", r.html);
        // Raw HTML shows as text.
        assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
        let img = render("![a](/api/docs/x) ![b](https://example.com/b.png)").html;
        assert!(
            !img.contains("/api/docs") && img.contains(r#"src="https://example.com/b.png""#),
            "{img}"
        );
        let link = render("[docs](https://example.com)").html;
        assert!(
            link.contains(r#"rel="noopener noreferrer nofollow""#),
            "{link}"
        );
    }

    #[test]
    fn excerpts_are_plain_and_short() {
        assert_eq!(
            excerpt("# Title\n\nSome **bold** text and `code`.\n\n| a |\n|---|\n| cell |\n\n```\nls\n```\n\n- one\n- two", 200),
            "Some bold text and code. one two"
        );
        assert_eq!(excerpt("word ".repeat(100).as_str(), 12), "word word w…");
        assert_eq!(
            excerpt("Open it.\n\n![backup-view.jpg](/uploads/a.jpg)\n\n[plan.pdf](/uploads/b.pdf) and [the wiki](https://pve.proxmox.com/).", 200),
            "Open it. and the wiki."
        );
    }
}
