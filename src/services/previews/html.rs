//! The card of a page, read with html5ever's tokenizer (the HTML standard's, so attributes in any
//! order or quoting, entities, comments and scripts are read as a browser reads them): the title
//! (`og:title`, then `<meta name=title>`, then `<title>`), the description (`og:description`, then
//! `<meta name=description>`), the picture (`og:image`, `og:image:url`, `twitter:image`) and the
//! site's name (`og:site_name`).

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer};

/// What a page says about itself.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Card {
    /// Title (may be empty).
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Picture address as written (relative or absolute).
    pub image: Option<String>,
    /// Site name.
    pub site_name: Option<String>,
}

/// Longest title and description kept (characters).
const TITLE_MAX: usize = 300;
const DESCRIPTION_MAX: usize = 500;
const URL_MAX: usize = 2048;

#[derive(Default)]
struct State {
    in_title: bool,
    title_seen: bool,
    title: String,
    /// `(property or name, content)`, lower-cased keys, in document order.
    metas: Vec<(String, String)>,
}

struct Sink(RefCell<State>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                match (tag.kind, name) {
                    (TagKind::StartTag, "title") if !st.title_seen => {
                        st.in_title = true;
                        return TokenSinkResult::RawData(RawKind::Rcdata);
                    }
                    (TagKind::StartTag, "title" | "textarea") => {
                        return TokenSinkResult::RawData(RawKind::Rcdata)
                    }
                    (TagKind::EndTag, "title") if st.in_title => {
                        st.in_title = false;
                        st.title_seen = true;
                    }
                    (TagKind::StartTag, "script") => {
                        return TokenSinkResult::RawData(RawKind::ScriptData)
                    }
                    (TagKind::StartTag, "style" | "xmp" | "iframe" | "noembed" | "noframes") => {
                        return TokenSinkResult::RawData(RawKind::Rawtext)
                    }
                    (TagKind::StartTag, "meta") if st.metas.len() < 200 => {
                        let attr = |n: &str| {
                            tag.attrs
                                .iter()
                                .find(|a| &*a.name.local == n)
                                .map(|a| a.value.to_string())
                        };
                        let key = attr("property").or_else(|| attr("name"));
                        if let (Some(k), Some(v)) = (key, attr("content")) {
                            st.metas.push((k.trim().to_ascii_lowercase(), v));
                        }
                    }
                    _ => {}
                }
            }
            Token::CharacterTokens(text) if st.in_title && st.title.len() < 4 * TITLE_MAX => {
                st.title.push_str(&text);
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Collapses runs of white space and cuts to `max` characters.
fn tidy(s: &str, max: usize) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        joined
    } else {
        let cut: String = joined.chars().take(max - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The card of an HTML document.
pub fn card(html: &str) -> Card {
    let tokenizer = Tokenizer::new(Sink(RefCell::new(State::default())), Default::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(html));
    while let html5ever::TokenizerResult::Script(()) = tokenizer.feed(&input) {}
    tokenizer.end();
    let st = tokenizer.sink.0.into_inner();
    let meta = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            st.metas
                .iter()
                .find(|(key, v)| key == k && !v.trim().is_empty())
                .map(|(_, v)| v.clone())
        })
    };
    let title = meta(&["og:title", "title", "twitter:title"]).unwrap_or_else(|| st.title.clone());
    Card {
        title: tidy(&title, TITLE_MAX),
        description: meta(&["og:description", "description", "twitter:description"])
            .map(|d| tidy(&d, DESCRIPTION_MAX)),
        image: meta(&[
            "og:image",
            "og:image:url",
            "og:image:secure_url",
            "twitter:image",
        ])
        .map(|u| u.trim().to_owned())
        .filter(|u| u.len() <= URL_MAX),
        site_name: meta(&["og:site_name", "application-name"]).map(|s| tidy(&s, 100)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_graph_wins_and_attributes_come_in_any_order() {
        let c = card(
            r#"<!doctype html><html><head>
            <title>Plain &amp; simple</title>
            <meta content="OG &quot;title&quot;" property='og:title'>
            <META NAME=description CONTENT="A  page
               about things">
            <meta property="og:image" content="/img/card.png">
            <meta property="og:site_name" content="Example">
            </head><body>x</body></html>"#,
        );
        assert_eq!(c.title, "OG \"title\"");
        assert_eq!(c.description.as_deref(), Some("A page about things"));
        assert_eq!(c.image.as_deref(), Some("/img/card.png"));
        assert_eq!(c.site_name.as_deref(), Some("Example"));
    }

    #[test]
    fn scripts_comments_and_bodies_do_not_fool_it() {
        let c = card(
            r#"<head><!-- <meta property="og:title" content="commented"> -->
            <script>var s = '<meta property="og:title" content="in a script">'; </script>
            <title>Real <b>title</b></title><title>second</title></head>
            <body><textarea><meta name="description" content="in a textarea"></textarea></body>"#,
        );
        assert_eq!(c.title, "Real <b>title</b>");
        assert_eq!(c.description, None);
    }

    #[test]
    fn long_text_is_cut() {
        let c = card(&format!("<title>{}</title>", "word ".repeat(200)));
        assert!(c.title.chars().count() <= TITLE_MAX && c.title.ends_with('…'));
        assert_eq!(card("").title, "");
    }
}
