//! The layer order of `src/`, checked: every `crate::…` path (and every `super::…` that climbs to
//! the crate root) in the code outside test modules names a module of the same or a lower layer,
//! and the modules of one layer import each other without a cycle. `docs/architecture.md` shows
//! the same table; a test keeps the two equal.

use std::collections::{BTreeMap, BTreeSet};

/// Modules that are test code only (checks over the whole crate), outside the layers.
const TEST_ONLY: &[&str] = &["generated", "layering", "wire"];

/// The layers, lowest first: a module may use its own layer and those before it.
pub const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "opid",
            "secret",
            "error",
            "tls",
            "config",
            "pve",
            "store",
            "redis",
            "telemetry",
        ],
    ),
    (
        "rules",
        &[
            "acl",
            "audit",
            "auth",
            "limits",
            "push",
            "templates",
            "hardware_defaults",
        ],
    ),
    ("services", &["services"]),
    ("state", &["state"]),
    ("edges", &["http", "realtime"]),
    ("composition", &["app", "bootstrap", "cli"]),
];

/// One import that breaks the order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// The importing file.
    pub file: String,
    /// Its module.
    pub from: String,
    /// The imported module.
    pub to: String,
    /// What is wrong.
    pub why: String,
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

/// The module path of a file under `src/` (`services/chat/api.rs` → `services::chat::api`;
/// `mod.rs` names its folder; `lib.rs` is the root).
fn module_path(file: &str) -> Vec<String> {
    let trimmed = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The code of a file without its comments, string and character literals, and the items
/// marked `#[cfg(test)]` (test modules, and any `use` or item of test code).
fn code_of(text: &str) -> String {
    without_test_items(&stripped(text))
}

/// `code` without each item that follows a `#[cfg(test)]`: up to its `;` when that comes before
/// any `{`, else through the `}` that closes its first `{`.
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let end = match (item.find(';'), item.find('{')) {
            (Some(semi), brace) if brace.is_none_or(|b| semi < b) => semi + 1,
            (_, Some(open)) => {
                let mut depth = 0usize;
                let mut close = item.len();
                for (i, c) in item[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                close = open + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                close
            }
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// `text` without its comments, string and character literals.
fn stripped(text: &str) -> String {
    let body = text;
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match (c, next) {
            ('/', Some('/')) => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ('/', Some('*')) => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            ('r', Some('"' | '#')) if i == 0 || !is_ident(chars[i - 1]) => {
                // A raw string: r"…", r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    out.push(c);
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    match chars.get(j) {
                        None => break,
                        Some('"') if (1..=hashes).all(|h| chars.get(j + h) == Some(&'#')) => {
                            j += 1 + hashes;
                            break;
                        }
                        Some(_) => j += 1,
                    }
                }
                out.push_str("\"\"");
                i = j;
            }
            ('"', _) => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            ('\'', Some(n)) => {
                // A character literal ('x', '\n', '\u{..}'), not a lifetime ('a).
                let end = if n == '\\' {
                    chars[i + 2..]
                        .iter()
                        .position(|&c| c == '\'')
                        .map(|p| i + 2 + p)
                } else if chars.get(i + 2) == Some(&'\'') {
                    Some(i + 2)
                } else {
                    None
                };
                match end {
                    Some(e) => {
                        out.push_str("' '");
                        i = e + 1;
                    }
                    None => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The top-level modules `code` (in the module at `path`) names: `crate::x…`, `crate::{x…, y…}`,
/// and `super::…` chains that reach the crate root.
fn imports(path: &[String], code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < code.len() {
        let at_word = i == 0 || !is_ident(bytes[i - 1]);
        if at_word && code[i..].starts_with("crate::") {
            i += "crate::".len();
            collect_heads(&code[i..], &mut found);
            continue;
        }
        if at_word && code[i..].starts_with("super::") {
            // `super` from a file's module: its parent (`mod.rs` files are their folder).
            let mut depth = 0;
            let mut j = i;
            while code[j..].starts_with("super::") {
                depth += 1;
                j += "super::".len();
            }
            if depth >= path.len() {
                let beyond = depth - path.len();
                if beyond == 0 {
                    collect_heads(&code[j..], &mut found);
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

/// The first segment of the path at the start of `rest`, or of each item of a `{…}` group.
fn collect_heads(rest: &str, found: &mut BTreeSet<String>) {
    let ident: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if !ident.is_empty() {
        found.insert(ident);
        return;
    }
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 1;
        let mut item_start = true;
        for (k, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => item_start = true,
                c if item_start && depth == 1 && (c.is_ascii_alphanumeric() || c == '_') => {
                    let head: String = group[k..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if head != "self" {
                        found.insert(head);
                    }
                    item_start = false;
                }
                _ => {}
            }
        }
    }
}

/// Checks `files` (path under `src/`, text): every import runs down or sideways, the modules of a
/// layer import each other without a cycle, and every top-level module has a layer.
pub fn check(files: &[(String, String)]) -> Vec<Violation> {
    let mut bad = BTreeSet::new();
    let mut edges: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (file, text) in files {
        if file.ends_with("/tests.rs") {
            continue;
        }
        let path = module_path(file);
        let Some(from) = path.first().cloned() else {
            continue;
        };
        // The binary's entry point, and the checks that are test code only.
        if from == "main" || TEST_ONLY.contains(&from.as_str()) {
            continue;
        }
        let Some(from_layer) = layer_of(&from) else {
            bad.insert(Violation {
                file: file.clone(),
                from: from.clone(),
                to: String::new(),
                why:
                    "the module is in no layer: add it to layering::LAYERS and docs/architecture.md"
                        .to_owned(),
            });
            continue;
        };
        for to in imports(&path, &code_of(text)) {
            if to == from {
                continue;
            }
            let Some(to_layer) = layer_of(&to) else {
                continue;
            };
            if to_layer > from_layer {
                bad.insert(Violation {
                    file: file.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    why: format!(
                        "`{from}` ({}) imports `{to}` ({}), a higher layer",
                        LAYERS[from_layer].0, LAYERS[to_layer].0
                    ),
                });
            } else if to_layer == from_layer {
                edges
                    .entry(from.clone())
                    .or_default()
                    .insert((to.clone(), file.clone()));
            }
        }
    }
    bad.extend(cycles(&edges));
    bad.into_iter().collect()
}

/// Each import that closes a cycle among modules of one layer: `from` → `to` where `to`
/// reaches `from` again.
fn cycles(edges: &BTreeMap<String, BTreeSet<(String, String)>>) -> Vec<Violation> {
    let reaches = |start: &str, goal: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.to_owned()];
        while let Some(m) = stack.pop() {
            if m == goal {
                return true;
            }
            if seen.insert(m.clone()) {
                stack.extend(edges.get(&m).into_iter().flatten().map(|(n, _)| n.clone()));
            }
        }
        false
    };
    let mut out = Vec::new();
    for (from, tos) in edges {
        for (to, file) in tos {
            if reaches(to, from) {
                out.push(Violation {
                    file: file.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    why: format!("cycle: `{from}` imports `{to}`, which imports `{from}` again"),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn sources() -> Vec<(String, String)> {
        let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    fn file(path: &str, text: &str) -> (String, String) {
        (path.to_owned(), text.to_owned())
    }

    #[test]
    fn the_code_keeps_the_layer_order() {
        let files = sources();
        assert!(files.len() > 50, "the scan finds the sources");
        let bad = check(&files);
        assert!(
            bad.is_empty(),
            "imports against the layer order (docs/architecture.md):\n{}",
            bad.iter()
                .map(|v| format!("  {}: {}", v.file, v.why))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn every_module_of_the_crate_has_a_layer() {
        let lib =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
        for line in lib.lines() {
            if let Some(name) = line
                .trim()
                .strip_prefix("pub mod ")
                .or_else(|| line.trim().strip_prefix("mod "))
            {
                let name = name.trim_end_matches(';');
                assert!(
                    TEST_ONLY.contains(&name) || layer_of(name).is_some(),
                    "module `{name}` is in no layer"
                );
            }
        }
    }

    #[test]
    fn the_architecture_page_shows_the_same_table() {
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/architecture.md"))
                .unwrap();
        for (n, (name, mods)) in LAYERS.iter().enumerate() {
            let list = mods
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(" ");
            let row = format!("| L{n} {name} | {list} |");
            assert!(
                doc.contains(&row),
                "docs/architecture.md lacks the row `{row}`"
            );
        }
    }

    #[test]
    fn an_import_up_the_layers_is_found() {
        let bad = check(&[
            file("pve/mod.rs", "use crate::error::AppError;\n"),
            file(
                "store/mod.rs",
                "fn f() { let _ = crate::services::guests::power; }\n",
            ),
            file(
                "acl/mod.rs",
                "use crate::{pve::PveClient, state::AppState};\n",
            ),
        ]);
        let found: Vec<(&str, &str)> = bad
            .iter()
            .map(|v| (v.from.as_str(), v.to.as_str()))
            .collect();
        assert_eq!(found, vec![("acl", "state"), ("store", "services")]);
    }

    #[test]
    fn a_cycle_within_a_layer_is_found() {
        let bad = check(&[
            file("config.rs", "use crate::pve::path::PoolId;\n"),
            file("pve/mod.rs", "pub use super::config::Secret;\n"),
        ]);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad.iter().all(|v| v.why.starts_with("cycle")), "{bad:?}");
    }

    #[test]
    fn comments_strings_tests_and_inner_supers_are_not_imports() {
        let bad = check(&[file(
            "store/mod.rs",
            "// uses crate::state::AppState in a comment\n\
             /* crate::http */\n\
             const URL: &str = \"https://x//crate::app\";\n\
             use super::chat::Row;\n\
             #[cfg(test)]\nmod tests { use crate::state::AppState; }\n",
        )]);
        // `super::chat` from `store/mod.rs` is `crate::chat`: an unknown module, not a layer
        // break; the rest are comments, a string and a test module.
        assert_eq!(bad, Vec::new());
        let nested = check(&[file(
            "services/chat/api.rs",
            "use super::Chat; use super::super::Ops;\n",
        )]);
        assert_eq!(nested, Vec::new(), "both stay inside services");
        let climbing = check(&[file("acl/cache.rs", "use super::super::state::AppState;\n")]);
        assert_eq!(climbing.len(), 1, "{climbing:?}");
    }

    #[test]
    fn test_code_hides_only_itself() {
        // A `#[cfg(test)]` import near the top does not hide the imports after it.
        let bad = check(&[file(
            "acl/cache.rs",
            "#[cfg(test)]\nuse crate::state::AppState;\n\
             use crate::http::guard;\n\
             #[cfg(test)]\nmod tests { fn f() { if true { let _ = crate::app::App::build; } } }\n\
             use crate::realtime::Socket;\n",
        )]);
        let found: Vec<&str> = bad.iter().map(|v| v.to.as_str()).collect();
        assert_eq!(found, vec!["http", "realtime"], "{bad:?}");
    }

    #[test]
    fn a_module_without_a_layer_is_reported() {
        let bad = check(&[file("newthing.rs", "use crate::store::Store;\n")]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].why.contains("no layer"));
    }
}
