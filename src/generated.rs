//! Files generated from the code and committed (`docs/errors.md`, `docs/audit.md`,
//! `web/src/generated/wire.ts`): a test of each compares the file with what the code makes now
//! and, under `UMA_BLESS=1`, writes it anew.

/// Fails unless `relative` (from the crate root) holds `generated`; writes it under `UMA_BLESS`.
/// `test` names the test to run for that.
#[allow(clippy::unwrap_used, clippy::panic)]
pub(crate) fn up_to_date(relative: &str, generated: &str, test: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::fs::read_to_string(&path).unwrap_or_default() == generated {
        return;
    }
    if std::env::var_os("UMA_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
    } else {
        panic!("{relative} is out of date: run `UMA_BLESS=1 cargo test {test}` and commit it");
    }
}
