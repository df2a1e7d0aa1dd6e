//! Link previews (`/api/metadata?url=`): the card of a page (title, description, picture, site
//! name) for chat, fetched by Uma under the rules of [`guard`], and the picture of a card through
//! Uma too (`/api/metadata/image?url=`), so browsers never load it from the site. Answers are
//! kept per URL for a while; each person's calls are counted; every fetch and refusal is audited
//! (`METADATA_FETCH`, with the reason of a refusal).

pub mod guard;
pub mod html;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{json, Value};
use url::Url;

use crate::audit::{Audit, AuditAction, Status};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::events::EventLimits;
use crate::services::uploads::kind::{self, Kind};

use guard::{Blocked, CheckedResolver, Policy, Refusal, MAX_REDIRECTS};

/// The whole fetch, body included.
const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest page read.
const PAGE_MAX: usize = 1024 * 1024;
/// Largest picture passed through.
const IMAGE_MAX: usize = 3 * 1024 * 1024;
/// Fetches in flight at once on this instance (each holds up to its cap in memory).
const IN_FLIGHT: usize = 16;
/// How long an answer is kept: a card, a refusal.
const CARD_TTL: Duration = Duration::from_secs(10 * 60);
const REFUSAL_TTL: Duration = Duration::from_secs(60);
/// Answers kept at most.
const CACHE_MAX: usize = 2000;
/// Longest URL accepted.
const URL_MAX: usize = 2048;
const USER_AGENT: &str = "Mozilla/5.0 (compatible; LinkPreview/1.0)";

const BUDGET: &str = "api:metadata";
const IMAGE_BUDGET: &str = "api:metadata-image";

/// A fetched body.
struct Fetched {
    url: Url,
    content_type: Option<String>,
    body: Vec<u8>,
}

type Cached = (Instant, Result<Value, Refusal>);

/// The link-preview service.
#[derive(Clone)]
pub struct Previews {
    client: reqwest::Client,
    policy: Arc<Policy>,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
    in_flight: Arc<tokio::sync::Semaphore>,
    audit: Audit,
    limits: EventLimits,
}

impl std::fmt::Debug for Previews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Previews")
            .field("policy", &self.policy)
            .finish()
    }
}

/// The refusal as the API answers it.
fn refusal_error(r: Refusal) -> AppError {
    match r {
        Refusal::UrlNotAllowed => AppError::with_message(ErrorCode::Forbidden, "URL not allowed"),
        Refusal::HostNotAllowlisted => {
            AppError::with_message(ErrorCode::Forbidden, "URL host not allowlisted")
        }
        Refusal::HostResolutionBlocked => {
            AppError::with_message(ErrorCode::Forbidden, "URL host not allowed")
        }
        Refusal::TooManyRedirects => AppError::with_message(
            ErrorCode::UpstreamError,
            format!("Failed to fetch URL: more than {MAX_REDIRECTS} redirects"),
        ),
        Refusal::TooLarge => {
            AppError::with_message(ErrorCode::PayloadTooLarge, "Response too large")
        }
        Refusal::Timeout => AppError::with_message(
            ErrorCode::UpstreamError,
            "Failed to fetch URL: the site did not answer in time",
        ),
        Refusal::Upstream(status) => AppError::with_message(
            ErrorCode::UpstreamError,
            format!("Failed to fetch URL: the site answered {status}"),
        ),
        Refusal::Unreachable => AppError::with_message(
            ErrorCode::UpstreamError,
            "Failed to fetch URL: the site could not be reached",
        ),
        Refusal::NotAPicture => AppError::with_message(
            ErrorCode::UpstreamError,
            "Failed to fetch URL: not a PNG, JPEG, GIF or WebP picture",
        ),
    }
}

/// What went wrong with a request: the resolver's refusal, a timeout, or anything else.
fn classify(e: &reqwest::Error) -> Refusal {
    if e.is_timeout() {
        return Refusal::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<Blocked>().is_some() {
            return Refusal::HostResolutionBlocked;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Refusal::Timeout;
            }
        }
        source = s.source();
    }
    Refusal::Unreachable
}

impl Previews {
    /// The service with the configured rules.
    pub fn new(policy: Policy, audit: Audit, limits: EventLimits) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let tls = crate::tls::client_config(&crate::tls::TrustSettings::default(), &[b"http/1.1"])
            .map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
            // A proxy would resolve names itself, past the checks.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            policy,
            cache: Arc::default(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
            audit,
            limits,
        })
    }

    fn url_of(raw: Option<&str>) -> AppResult<&str> {
        match raw.map(str::trim).filter(|u| !u.is_empty()) {
            None => Err(AppError::field("url", "URL required")),
            Some(u) if u.len() > URL_MAX => Err(AppError::field(
                "url",
                format!("at most {URL_MAX} characters"),
            )),
            Some(u) => Ok(u),
        }
    }

    fn audit(&self, caller: &Caller, url: &str, outcome: Result<&Value, Refusal>, cached: bool) {
        let resource = format!("url:{}", url.chars().take(200).collect::<String>());
        match outcome {
            Ok(_) => self.audit.record(
                &caller.actor,
                AuditAction::MetadataFetch,
                &resource,
                Status::Success,
                json!({ "url": url, "cached": cached }),
            ),
            Err(r) => self.audit.record(
                &caller.actor,
                AuditAction::MetadataFetch,
                &resource,
                Status::Warning,
                json!({ "url": url, "reason": r.reason(), "cached": cached }),
            ),
        }
    }

    /// GET with every hop checked; the body up to `cap` bytes.
    async fn fetch(&self, raw: &str, accept: &str, cap: usize) -> Result<Fetched, Refusal> {
        let mut url = self.policy.check(raw)?;
        // Waiting for a turn counts against the same time limit as the fetch.
        let _turn = tokio::time::timeout(TIMEOUT, self.in_flight.acquire())
            .await
            .map_err(|_| Refusal::Timeout)?
            .map_err(|_| Refusal::Unreachable)?;
        for hop in 0..=MAX_REDIRECTS {
            self.policy.check_url(&url)?;
            let mut resp = self
                .client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, accept)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let status = resp.status();
            if status.is_redirection() {
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(Refusal::Upstream(status.as_u16()))?;
                if hop == MAX_REDIRECTS {
                    return Err(Refusal::TooManyRedirects);
                }
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(Refusal::Upstream(status.as_u16()));
            }
            if resp.content_length().is_some_and(|n| n > cap as u64) {
                return Err(Refusal::TooLarge);
            }
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let expected = resp.content_length().unwrap_or(0).min(cap as u64) as usize;
            let mut body = Vec::with_capacity(expected);
            while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
                if body.len() + chunk.len() > cap {
                    return Err(Refusal::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            return Ok(Fetched {
                url,
                content_type,
                body,
            });
        }
        Err(Refusal::TooManyRedirects)
    }

    fn cached(&self, url: &str) -> Option<Result<Value, Refusal>> {
        let mut cache = self.cache.lock();
        match cache.get(url) {
            Some((until, answer)) if *until > Instant::now() => Some(answer.clone()),
            Some(_) => {
                cache.remove(url);
                None
            }
            None => None,
        }
    }

    fn remember(&self, url: &str, answer: &Result<Value, Refusal>) {
        let ttl = if answer.is_ok() {
            CARD_TTL
        } else {
            REFUSAL_TTL
        };
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_MAX {
            let now = Instant::now();
            cache.retain(|_, (until, _)| *until > now);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(url.to_owned(), (Instant::now() + ttl, answer.clone()));
    }

    /// The card of a page: `{title, description, image, imageUrl, siteName, url}` (`image` as
    /// the page gives it, absolute; `imageUrl` the same picture through Uma).
    pub async fn card(&self, caller: &Caller, raw: Option<&str>) -> AppResult<Value> {
        crate::services::api_budget(
            &self.limits,
            &self.audit,
            caller,
            BUDGET,
            AuditAction::MetadataFetch,
        )
        .await?;
        let url = Self::url_of(raw)?;
        if let Some(answer) = self.cached(url) {
            self.audit(caller, url, answer.as_ref().map_err(|r| *r), true);
            return answer.map_err(refusal_error);
        }
        let answer = self
            .fetch(url, "text/html,application/xhtml+xml", PAGE_MAX)
            .await
            .map(|f| Self::card_of(&f));
        self.audit(caller, url, answer.as_ref().map_err(|r| *r), false);
        self.remember(url, &answer);
        answer.map_err(refusal_error)
    }

    fn card_of(f: &Fetched) -> Value {
        let ct = f.content_type.as_deref().unwrap_or("").to_ascii_lowercase();
        let html_like = ct.is_empty() || ct.contains("html") || ct.contains("xml");
        let card = if html_like {
            let encoding = ct
                .split(';')
                .find_map(|p| p.trim().strip_prefix("charset="))
                .and_then(|c| encoding_rs::Encoding::for_label(c.trim_matches('"').as_bytes()))
                .unwrap_or(encoding_rs::UTF_8);
            let (text, _, _) = encoding.decode(&f.body);
            html::card(&text)
        } else {
            html::Card::default()
        };
        let image = card
            .image
            .as_deref()
            .and_then(|i| f.url.join(i).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(String::from);
        let image_url = image.as_deref().map(|i| {
            format!(
                "/api/metadata/image?url={}",
                url::form_urlencoded::byte_serialize(i.as_bytes()).collect::<String>()
            )
        });
        json!({
            "title": card.title,
            "description": card.description,
            "image": image,
            "imageUrl": image_url,
            "siteName": card.site_name,
            "url": f.url.as_str(),
        })
    }

    /// A card's picture, through Uma: the same checks, a PNG, JPEG, GIF or WebP (by its first
    /// bytes) of at most 3 MiB.
    pub async fn image(&self, caller: &Caller, raw: Option<&str>) -> AppResult<(Kind, Vec<u8>)> {
        crate::services::api_budget(
            &self.limits,
            &self.audit,
            caller,
            IMAGE_BUDGET,
            AuditAction::MetadataFetch,
        )
        .await?;
        let url = Self::url_of(raw)?;
        let fetched = self
            .fetch(url, "image/png,image/jpeg,image/gif,image/webp", IMAGE_MAX)
            .await
            .and_then(
                |f| match kind::sniff(&f.body[..f.body.len().min(kind::SNIFF_LEN)]) {
                    Ok(k) if k.is_image() => Ok((k, f.body)),
                    _ => Err(Refusal::NotAPicture),
                },
            );
        match fetched {
            Ok(found) => Ok(found),
            Err(r) => {
                self.audit(caller, url, Err(r), false);
                Err(refusal_error(r))
            }
        }
    }
}
