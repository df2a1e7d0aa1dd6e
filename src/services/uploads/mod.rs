//! Uploaded files: pictures and PDFs for the docs and for chat. A file is streamed to disk
//! (never held whole in memory) and refused as soon as it passes the size limit; its kind comes
//! from its first bytes ([`kind`]); images are rewritten without their metadata ([`strip`]);
//! the result is stored once under a name made from its content (an HMAC of its SHA-256 with a
//! key of this deployment, so nobody can test whether a file they have is stored) and recorded
//! once per uploader, whose storage quota counts it. Files are served to signed-in people only, and to everyone
//! when a published doc shows them and the docs are public ([`ContentSettings`]).

pub mod kind;
pub mod strip;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::audit::{Audit, AuditAction, Status};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::{OpLimits, Preset};
use crate::store::uploads::Upload;
use crate::store::{new_id, now_ms, Store, StoreError};

use kind::{Kind, SNIFF_LEN};

const MIB: u64 = 1024 * 1024;

/// The setting that holds [`ContentSettings`].
pub const CONTENT_KEY: &str = "content";

/// How big one upload may be by default (the original's 10 MiB).
pub const DEFAULT_MAX_UPLOAD: u64 = 10 * MIB;
/// How much each person may store by default.
pub const DEFAULT_QUOTA: u64 = 200 * MIB;
/// Upper bounds an administrator may set.
pub const MAX_UPLOAD_LIMIT: u64 = 100 * MIB;
/// Upper bound of the per-person quota.
pub const QUOTA_LIMIT: u64 = 100 * 1024 * MIB;
/// Longest original file name kept (the MariaDB column).
const NAME_MAX: usize = 180;
/// Uploads listed at most.
const LIST_MAX: i64 = 500;

/// The content settings: whether published docs (and the files they show) are public, and the
/// upload limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentSettings {
    /// Published docs readable without signing in.
    pub public_docs: bool,
    /// Largest upload, in bytes.
    pub max_upload_bytes: u64,
    /// What each person may store, in bytes (0 = no limit).
    pub upload_quota_bytes: u64,
}

impl Default for ContentSettings {
    fn default() -> Self {
        Self {
            public_docs: false,
            max_upload_bytes: DEFAULT_MAX_UPLOAD,
            upload_quota_bytes: DEFAULT_QUOTA,
        }
    }
}

/// The fields of the settings' JSON.
pub const CONTENT_FIELDS: [&str; 3] = ["publicDocs", "maxUploadBytes", "uploadQuotaBytes"];

impl ContentSettings {
    /// The stored settings, defaults for what is not stored.
    pub async fn load(store: &Store) -> AppResult<Self> {
        let mut s = Self::default();
        if let Some(v) = store.config_value(CONTENT_KEY).await? {
            if let Some(b) = v.get("publicDocs").and_then(Value::as_bool) {
                s.public_docs = b;
            }
            if let Some(n) = v.get("maxUploadBytes").and_then(Value::as_u64) {
                s.max_upload_bytes = n.clamp(1, MAX_UPLOAD_LIMIT);
            }
            if let Some(n) = v.get("uploadQuotaBytes").and_then(Value::as_u64) {
                s.upload_quota_bytes = n.min(QUOTA_LIMIT);
            }
        }
        Ok(s)
    }

    /// As JSON (the API's and the stored shape).
    pub fn to_json(self) -> Value {
        json!({
            "publicDocs": self.public_docs,
            "maxUploadBytes": self.max_upload_bytes,
            "uploadQuotaBytes": self.upload_quota_bytes,
        })
    }

    /// These settings with the fields of `body` applied; each bad field is named.
    pub fn apply(mut self, body: &serde_json::Map<String, Value>) -> AppResult<Self> {
        if let Some(k) = body.keys().find(|k| !CONTENT_FIELDS.contains(&k.as_str())) {
            return Err(AppError::field(
                k,
                format!(
                    "is not a content setting (use {})",
                    CONTENT_FIELDS.join(", ")
                ),
            ));
        }
        if body.is_empty() {
            return Err(AppError::with_message(
                ErrorCode::InvalidInput,
                format!("Send at least one of {}", CONTENT_FIELDS.join(", ")),
            ));
        }
        for (k, v) in body {
            match k.as_str() {
                "publicDocs" => {
                    self.public_docs = v
                        .as_bool()
                        .ok_or_else(|| AppError::field(k, "use true or false"))?;
                }
                "maxUploadBytes" => {
                    self.max_upload_bytes = v
                        .as_u64()
                        .filter(|n| (1024..=MAX_UPLOAD_LIMIT).contains(n))
                        .ok_or_else(|| {
                            AppError::field(
                                k,
                                format!("use a number of bytes from 1024 to {MAX_UPLOAD_LIMIT}"),
                            )
                        })?;
                }
                _ => {
                    self.upload_quota_bytes =
                        v.as_u64().filter(|n| *n <= QUOTA_LIMIT).ok_or_else(|| {
                            AppError::field(
                                k,
                                format!("use a number of bytes up to {QUOTA_LIMIT} (0 = no limit)"),
                            )
                        })?;
                }
            }
        }
        Ok(self)
    }
}

/// "10 MiB", "512 KiB".
pub fn human_size(bytes: u64) -> String {
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// How long the content settings are read from memory.
const SETTINGS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

type Remembered = Option<(std::time::Instant, ContentSettings)>;

/// The uploads service.
#[derive(Clone)]
pub struct Uploads {
    store: Store,
    audit: Audit,
    limits: OpLimits,
    dir: PathBuf,
    /// Names stored files (see [`Uploads::stored_name`]).
    key: [u8; 32],
    settings: std::sync::Arc<parking_lot::Mutex<Remembered>>,
    /// The quota check and the record of one upload, one at a time on this instance.
    recording: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Uploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploads").field("dir", &self.dir).finish()
    }
}

/// What one upload may take: its size limit (the quota is checked once the file is known, as
/// the same file again costs nothing).
#[derive(Debug, Clone, Copy)]
pub struct Allowance {
    max: u64,
}

impl Allowance {
    /// The largest file, in bytes.
    pub fn max_bytes(self) -> u64 {
        self.max
    }
}

/// A file received and stored on disk, not yet recorded. Dropped without being recorded (an
/// error after it arrived, the client gone), its file is removed unless someone else has it.
#[derive(Debug)]
pub struct Received {
    kind: Kind,
    file_name: String,
    stored_name: String,
    sha256: String,
    size: u64,
    unrecorded: Option<Uploads>,
}

impl Drop for Received {
    fn drop(&mut self) {
        if let Some(uploads) = self.unrecorded.take() {
            let name = std::mem::take(&mut self.stored_name);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { uploads.forget_file(&name).await });
            }
        }
    }
}

/// A file to serve.
#[derive(Debug)]
pub struct Served {
    /// Where it is.
    pub path: PathBuf,
    /// Its kind.
    pub kind: Kind,
    /// The name it was uploaded with (for `Content-Disposition`).
    pub file_name: String,
}

/// A file being written; removed unless kept.
struct Scratch(Option<PathBuf>);

impl Scratch {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Whether `name` is one Uma gave a stored file (hex SHA-256 and a known extension).
pub fn stored_kind(name: &str) -> Option<Kind> {
    let (hash, ext) = name.split_once('.')?;
    if hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Kind::of_extension(ext)
    } else {
        None
    }
}

/// Invisible characters that reorder or hide text (bidirectional controls, zero-width ones, tag
/// characters, variation selectors, separators, private use) and letters that show as blanks:
/// `invoice\u{202E}fdp.bat` shows as `invoicetab.pdf`, and `admin\u{E0061}` as `admin`.
pub(crate) fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{2800}' | '\u{3164}'
        | '\u{E000}'..='\u{F8FF}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}' | '\u{F0000}'..='\u{10FFFF}')
}

/// The uploaded name, kept for display and downloads: the last path part, control and invisible
/// characters removed, trimmed to [`NAME_MAX`] characters, and ending in the extension of what
/// the file is (a PNG named `holiday.pdf` downloads as `holiday.png`); `file.<ext>` when nothing
/// is left.
fn display_name(raw: Option<&str>, kind: Kind) -> String {
    let ext = kind.extension();
    let base = raw
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !is_format_char(*c))
        .collect::<String>();
    let base = base.trim().trim_end_matches('.');
    let stem = match base.rsplit_once('.') {
        Some((stem, _)) => stem.trim(),
        None => base,
    };
    if stem.is_empty() {
        return format!("file.{ext}");
    }
    let stem: String = stem.chars().take(NAME_MAX - ext.len() - 1).collect();
    format!("{stem}.{ext}")
}

impl Uploads {
    /// The service storing files under `dir`; `secret` (the deployment's cookie secret) keys
    /// the stored names.
    pub fn new(store: Store, audit: Audit, limits: OpLimits, dir: PathBuf, secret: &[u8]) -> Self {
        let mut mac = keyed(secret);
        mac.update(b"uma uploads v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        Self {
            store,
            audit,
            limits,
            dir,
            key,
            settings: std::sync::Arc::default(),
            recording: std::sync::Arc::default(),
        }
    }

    /// The stored name of content with this SHA-256: an HMAC with the deployment's key, so a
    /// file's address can't be worked out from the file.
    fn stored_name(&self, sha256: &[u8], kind: Kind) -> String {
        let mut mac = keyed(&self.key);
        mac.update(sha256);
        format!(
            "{}.{}",
            hex::encode(mac.finalize().into_bytes()),
            kind.extension()
        )
    }

    /// The content settings (read again from the store every few seconds).
    pub async fn settings(&self) -> AppResult<ContentSettings> {
        if let Some((at, s)) = *self.settings.lock() {
            if at.elapsed() < SETTINGS_TTL {
                return Ok(s);
            }
        }
        let s = ContentSettings::load(&self.store).await?;
        *self.settings.lock() = Some((std::time::Instant::now(), s));
        Ok(s)
    }

    /// Forgets the remembered settings (after a change on this instance).
    pub fn settings_changed(&self) {
        *self.settings.lock() = None;
    }

    /// Removes files left half-written in the incoming folder by a stop more than an hour ago
    /// (an upload in progress on another instance is younger).
    pub async fn sweep_incoming(&self) {
        let Ok(mut entries) = tokio::fs::read_dir(self.incoming()).await else {
            return;
        };
        let hour = std::time::Duration::from_secs(3600);
        while let Ok(Some(e)) = entries.next_entry().await {
            let old = e
                .metadata()
                .await
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > hour));
            if old {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }

    fn incoming(&self) -> PathBuf {
        self.dir.join(".incoming")
    }

    fn path_of(&self, stored_name: &str) -> PathBuf {
        self.dir.join(&stored_name[..2]).join(stored_name)
    }

    fn refuse(&self, caller: &Caller, err: AppError) -> AppError {
        self.audit
            .refused(&caller.actor, AuditAction::UploadFile, "upload", &err);
        err
    }

    /// Checks the rate limit and the quota before a file is read; returns what it may take.
    pub async fn allowance(&self, caller: &Caller) -> AppResult<Allowance> {
        if let Err(wait) = self.limits.check(Preset::Upload, caller.username()).await {
            self.audit.record(
                &caller.actor,
                AuditAction::UploadFile,
                "upload",
                Status::Warning,
                json!({ "reason": "rate_limited", "preset": Preset::Upload.name(), "retryAfter": wait }),
            );
            let mut err = AppError::with_message(
                ErrorCode::RateLimited,
                format!("Rate limit exceeded. Please try again in {wait} seconds."),
            );
            err.retry_after = Some(wait);
            return Err(err);
        }
        let settings = self.settings().await?;
        let quota = settings.upload_quota_bytes;
        let used = u64::try_from(self.store.upload_usage(caller.username()).await?).unwrap_or(0);
        if quota > 0 && used >= quota {
            return Err(self.refuse(caller, quota_full(quota, used)));
        }
        Ok(Allowance {
            max: settings.max_upload_bytes,
        })
    }

    /// Streams one file to disk within `allowance`, decides its kind, strips an image's
    /// metadata and stores it under its content's hash. Nothing is recorded yet: see
    /// [`Uploads::record`].
    pub async fn receive<S>(
        &self,
        caller: &Caller,
        allowance: Allowance,
        file_name: Option<&str>,
        mut body: S,
    ) -> AppResult<Received>
    where
        S: Stream<Item = Result<Bytes, multer::Error>> + Unpin,
    {
        let incoming = self.incoming();
        tokio::fs::create_dir_all(&incoming)
            .await
            .map_err(AppError::internal)?;
        let raw = Scratch(Some(incoming.join(new_id())));
        let mut file = tokio::fs::File::create(raw.path())
            .await
            .map_err(AppError::internal)?;
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
        let mut kind: Option<Kind> = None;
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.refuse(caller, stream_error(&e, allowance.max)))?;
            size += chunk.len() as u64;
            if size > allowance.max {
                return Err(self.refuse(caller, too_large(allowance.max)));
            }
            if kind.is_none() {
                head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_LEN - head.len())]);
                if head.len() == SNIFF_LEN {
                    kind = Some(self.decide(caller, &head)?);
                }
            }
            file.write_all(&chunk).await.map_err(AppError::internal)?;
        }
        file.flush().await.map_err(AppError::internal)?;
        drop(file);
        if size == 0 {
            return Err(self.refuse(caller, AppError::field("file", "the file is empty")));
        }
        let kind = match kind {
            Some(k) => k,
            None => self.decide(caller, &head)?,
        };
        // The clean copy, hashed as it is written.
        let clean = Scratch(Some(incoming.join(new_id())));
        let (from, to) = (raw.path().to_owned(), clean.path().to_owned());
        let stripped =
            tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, u64), strip::Invalid> {
                let input = std::fs::File::open(&from)?;
                let out = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&to)?;
                strip::strip(kind, input, &out)?;
                let mut hashed = std::fs::File::open(&to)?;
                let mut hasher = Sha256::new();
                let n = std::io::copy(&mut hashed, &mut hasher)?;
                Ok((hasher.finalize().to_vec(), n))
            })
            .await
            .map_err(AppError::internal)?;
        let (sha256, size) = match stripped {
            Ok(v) => v,
            Err(strip::Invalid::Format(why)) => {
                let mut err = AppError::with_message(
                    ErrorCode::InvalidInput,
                    format!(
                        "This is not a valid {} file ({why}): it may be damaged or not really a {}; save or export it again and retry",
                        kind.label(),
                        kind.label()
                    ),
                );
                err.field = Some("file".to_owned());
                return Err(self.refuse(caller, err));
            }
            Err(strip::Invalid::Io(e)) => return Err(AppError::internal(e)),
        };
        drop(raw);
        let stored_name = self.stored_name(&sha256, kind);
        let sha256 = hex::encode(sha256);
        let path = self.path_of(&stored_name);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(AppError::internal)?;
        }
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            drop(clean);
        } else {
            tokio::fs::rename(clean.path(), &path)
                .await
                .map_err(AppError::internal)?;
            clean.keep();
        }
        Ok(Received {
            kind,
            file_name: display_name(file_name, kind),
            stored_name,
            sha256,
            size,
            unrecorded: Some(self.clone()),
        })
    }

    fn decide(&self, caller: &Caller, head: &[u8]) -> AppResult<Kind> {
        kind::sniff(head).map_err(|refused| {
            self.refuse(
                caller,
                AppError::with_message(ErrorCode::InvalidInput, refused.message()),
            )
        })
    }

    /// Records a received file for its uploader (once per content: the same file again is the
    /// same record), attached to `doc_id` when given (administrators only). Returns the upload
    /// as the API shows it (`url`, `id`, `name`, `contentType`, `size`).
    pub async fn record(
        &self,
        caller: &Caller,
        mut received: Received,
        doc_id: Option<&str>,
    ) -> AppResult<Value> {
        let outcome = self.record_inner(caller, &received, doc_id).await;
        received.unrecorded = None;
        if outcome.is_err() {
            self.forget_file(&received.stored_name).await;
        }
        outcome
    }

    async fn record_inner(
        &self,
        caller: &Caller,
        received: &Received,
        doc_id: Option<&str>,
    ) -> AppResult<Value> {
        if let Some(d) = doc_id {
            if !caller.is_admin() {
                return Err(self.refuse(
                    caller,
                    AppError::with_message(
                        ErrorCode::Forbidden,
                        "Only administrators attach files to docs",
                    ),
                ));
            }
            let ok = !d.is_empty()
                && d.len() <= 64
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok || self.store.doc(d).await?.is_none() {
                return Err(self.refuse(caller, AppError::field("docId", "no such doc")));
            }
        }
        // One quota check and record at a time, so parallel uploads can't all pass a nearly full
        // quota (per instance).
        let _turn = self.recording.lock().await;
        let existing = self
            .store
            .upload_of(&received.stored_name, caller.username())
            .await?;
        let upload = match existing {
            Some(u) => u,
            None => {
                // The quota counts what is new for this person (the same file again is free).
                let quota = self.settings().await?.upload_quota_bytes;
                let used =
                    u64::try_from(self.store.upload_usage(caller.username()).await?).unwrap_or(0);
                if quota > 0 && used.saturating_add(received.size) > quota {
                    return Err(self.refuse(caller, quota_full(quota, used)));
                }
                let u = Upload {
                    id: new_id(),
                    doc_id: doc_id.map(str::to_owned),
                    uploaded_by: caller.username().to_owned(),
                    file_name: received.file_name.clone(),
                    stored_name: received.stored_name.clone(),
                    content_type: received.kind.content_type().to_owned(),
                    size_bytes: i64::try_from(received.size).unwrap_or(i64::MAX),
                    sha256: received.sha256.clone(),
                    created_at: now_ms(),
                };
                match self.store.insert_upload(&u).await {
                    Ok(()) => u,
                    // The same person sent the same file twice at once.
                    Err(StoreError::Conflict(_)) => self
                        .store
                        .upload_of(&received.stored_name, caller.username())
                        .await?
                        .ok_or_else(|| AppError::new(ErrorCode::Conflict))?,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        if let (Some(d), None) = (doc_id, &upload.doc_id) {
            self.store.attach_upload(&upload.id, d).await?;
        }
        self.audit.record(
            &caller.actor,
            AuditAction::UploadFile,
            &format!("upload:{}", upload.stored_name),
            Status::Success,
            json!({
                "id": upload.id,
                "fileName": upload.file_name,
                "contentType": upload.content_type,
                "size": upload.size_bytes,
                "docId": doc_id,
            }),
        );
        Ok(upload_json(&upload))
    }

    /// Removes a stored file that nothing records or shows any more.
    pub async fn forget_file(&self, stored_name: &str) {
        if stored_kind(stored_name).is_none() {
            return;
        }
        match self.store.stored_file_in_use(stored_name).await {
            Ok(false) => {
                if let Err(e) = tokio::fs::remove_file(self.path_of(stored_name)).await {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(error = %e, stored_name, "could not remove an upload");
                    }
                }
            }
            Ok(true) => {}
            Err(e) => tracing::warn!(error = %e, stored_name, "could not check an upload's use"),
        }
    }

    /// Attaches the caller's unattached uploads that a doc shows (its cover, its text) to the
    /// doc, so they go with it.
    pub async fn attach_shown(&self, caller: &Caller, doc_id: &str, shown: &[&str]) {
        for text in shown {
            for name in referenced(text) {
                if let Ok(Some(u)) = self.store.upload_of(name, caller.username()).await {
                    if u.doc_id.is_none() {
                        if let Err(e) = self.store.attach_upload(&u.id, doc_id).await {
                            tracing::warn!(error = %e, "could not attach an upload to its doc");
                        }
                    }
                }
            }
        }
    }

    /// The caller's uploads and how much of their quota they take.
    pub async fn list(&self, caller: &Caller) -> AppResult<Value> {
        let settings = self.settings().await?;
        let uploads = self.store.uploads_by(caller.username(), LIST_MAX).await?;
        let used = self.store.upload_usage(caller.username()).await?;
        self.audit.record(
            &caller.actor,
            AuditAction::UploadList,
            "uploads",
            Status::Success,
            json!({ "count": uploads.len() }),
        );
        Ok(json!({
            "uploads": uploads.iter().map(upload_json).collect::<Vec<_>>(),
            "usedBytes": used,
            "quotaBytes": settings.upload_quota_bytes,
            "maxUploadBytes": settings.max_upload_bytes,
        }))
    }

    /// Deletes one of the caller's uploads (administrators: anyone's); the file goes when
    /// nothing else records or shows it.
    pub async fn delete(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let resource = format!("upload:{id}");
        let found = match self.store.upload(id).await? {
            Some(u) if u.uploaded_by == caller.username() || caller.is_admin() => u,
            // Someone else's upload does not exist for the caller.
            _ => {
                let err = AppError::with_message(ErrorCode::NotFound, "No such upload");
                self.audit
                    .refused(&caller.actor, AuditAction::UploadDelete, &resource, &err);
                return Err(err);
            }
        };
        let url = format!("/uploads/{}", found.stored_name);
        let avatar = self.store.is_avatar_of(&found.uploaded_by, &url).await?;
        if avatar && caller.is_admin() && found.uploaded_by != caller.username() {
            // An administrator takes down someone's picture: their profile loses it.
            self.store.clear_avatar(&found.uploaded_by, &url).await?;
        } else if avatar {
            let err = AppError::with_message(
                ErrorCode::Conflict,
                "This picture is a profile picture; choose another one in Settings first",
            );
            self.audit
                .refused(&caller.actor, AuditAction::UploadDelete, &resource, &err);
            return Err(err);
        }
        self.store.delete_upload(&found.id).await?;
        self.forget_file(&found.stored_name).await;
        self.audit.record(
            &caller.actor,
            AuditAction::UploadDelete,
            &resource,
            Status::Success,
            json!({ "storedName": found.stored_name, "uploadedBy": found.uploaded_by }),
        );
        Ok(())
    }

    /// A stored file for a reader: anyone signed in, and anyone at all when the docs are
    /// public and a published doc shows it. `Unauthorized` otherwise; `NotFound` when no
    /// such file is recorded.
    /// The reader's own name for the file when they uploaded it too.
    pub async fn open(&self, reader: Option<&str>, stored_name: &str) -> AppResult<Served> {
        let not_found = || AppError::with_message(ErrorCode::NotFound, "No such file");
        let kind = stored_kind(stored_name).ok_or_else(not_found)?;
        if reader.is_none() {
            let public = self.settings().await?.public_docs
                && self.store.doc_uses_upload(stored_name, true).await?;
            if !public {
                return Err(AppError::with_message(
                    ErrorCode::Unauthorized,
                    "Sign in to see this file",
                ));
            }
        }
        let own = match reader {
            Some(user) => self.store.upload_of(stored_name, user).await?,
            None => None,
        };
        let record = match own {
            Some(r) => r,
            None => self
                .store
                .upload_by_stored_name(stored_name)
                .await?
                .ok_or_else(not_found)?,
        };
        let path = self.path_of(stored_name);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Err(not_found());
        }
        Ok(Served {
            path,
            kind,
            file_name: record.file_name,
        })
    }
}

/// The stored names a text shows (`/uploads/<name>`).
pub fn referenced(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("/uploads/").filter_map(|(at, m)| {
        let rest = &text[at + m.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches('.');
        stored_kind(name).map(|_| name)
    })
}

fn upload_json(u: &Upload) -> Value {
    json!({
        "id": u.id,
        "url": format!("/uploads/{}", u.stored_name),
        "name": u.file_name,
        "contentType": u.content_type,
        "size": u.size_bytes,
        "createdAt": u.created_at,
    })
}

/// A failed read of the request: too big for the limit, or cut off.
pub fn stream_error(e: &multer::Error, max: u64) -> AppError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            too_large(max)
        }
        other => AppError::with_message(
            ErrorCode::InvalidInput,
            format!("Send the file as multipart/form-data with a field named file ({other})"),
        ),
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

fn too_large(max: u64) -> AppError {
    AppError::with_message(
        ErrorCode::PayloadTooLarge,
        format!("File too large. Maximum size is {}", human_size(max)),
    )
}

fn quota_full(quota: u64, used: u64) -> AppError {
    AppError::with_message(
        ErrorCode::PayloadTooLarge,
        format!(
            "Your uploads would pass your storage quota ({} of {} used): delete some of them first",
            human_size(used),
            human_size(quota)
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stored_names_are_hash_and_kind() {
        let hash = "ab".repeat(32);
        assert_eq!(stored_kind(&format!("{hash}.png")), Some(Kind::Png));
        assert_eq!(stored_kind(&format!("{hash}.svg")), None);
        assert_eq!(stored_kind(&format!("{}.png", "AB".repeat(32))), None);
        assert_eq!(stored_kind("../../etc/passwd"), None);
        assert_eq!(stored_kind(&format!("{hash}.png.html")), None);
    }

    #[test]
    fn texts_name_their_uploads() {
        let a = "ab".repeat(32);
        let b = "cd".repeat(32);
        let text = format!(
            "![x](/uploads/{a}.png) and [pdf](/uploads/{b}.pdf). Not /uploads/../x or /uploads/{a}.exe"
        );
        let found: Vec<&str> = referenced(&text).collect();
        assert_eq!(found, [format!("{a}.png"), format!("{b}.pdf")]);
    }

    #[test]
    fn uploaded_names_are_kept_for_display_only() {
        assert_eq!(
            display_name(Some("C:\\Users\\me\\shot.png"), Kind::Png),
            "shot.png"
        );
        assert_eq!(
            display_name(Some("../../etc/x\u{7}.pdf"), Kind::Pdf),
            "x.pdf"
        );
        assert_eq!(display_name(None, Kind::Gif), "file.gif");
        // The name says what the file is, and hides nothing.
        assert_eq!(display_name(Some("holiday.pdf"), Kind::Png), "holiday.png");
        assert_eq!(
            display_name(Some("invoice\u{202E}fdp.bat"), Kind::Pdf),
            "invoicefdp.pdf"
        );
        assert_eq!(display_name(Some("report"), Kind::Pdf), "report.pdf");
        assert_eq!(display_name(Some(".pdf"), Kind::Pdf), "file.pdf");
        assert_eq!(display_name(Some("photo.JPEG"), Kind::Jpeg), "photo.jpg");
        assert_eq!(
            display_name(Some("a".repeat(400).as_str()), Kind::Png).len(),
            NAME_MAX
        );
    }

    #[test]
    fn settings_name_each_bad_field() {
        let s = ContentSettings::default();
        let body = |v: Value| v.as_object().cloned().unwrap();
        assert!(
            s.apply(&body(json!({ "publicDocs": true })))
                .unwrap()
                .public_docs
        );
        let e = s.apply(&body(json!({ "maxUploadBytes": 10 }))).unwrap_err();
        assert!(e.message.contains("maxUploadBytes"), "{}", e.message);
        let e = s.apply(&body(json!({ "colour": 1 }))).unwrap_err();
        assert!(e.message.contains("colour"), "{}", e.message);
        assert!(s.apply(&body(json!({}))).is_err());
        assert_eq!(human_size(10 * MIB), "10 MiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
    }
}
