//! Page templates (minijinja, `templates/<family>/…`): embedded in release builds, read from disk
//! on every render in debug builds so edits show on reload.

use std::borrow::Cow;
use std::sync::Arc;

use minijinja::Environment;
use rust_embed::RustEmbed;
use serde::Serialize;

#[derive(RustEmbed)]
#[folder = "templates/"]
struct TemplateFiles;

/// Renders templates. Cheap to clone.
#[derive(Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_loader(|name| {
        Ok(TemplateFiles::get(name).map(|file| match file.data {
            Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            Cow::Owned(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        }))
    });
    env
}

impl Templates {
    /// Loads the templates.
    pub fn new() -> Self {
        Self {
            env: Arc::new(environment()),
        }
    }

    /// Renders `name` with `ctx`.
    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> Result<String, minijinja::Error> {
        if cfg!(debug_assertions) {
            // rust-embed reads from disk in debug builds; a fresh environment drops the cache.
            let env = environment();
            return env.get_template(name)?.render(ctx);
        }
        self.env.get_template(name)?.render(ctx)
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}
