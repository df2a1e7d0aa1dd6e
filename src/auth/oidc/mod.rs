//! OpenID Connect sign-in (authorization code flow with PKCE) through the providers of
//! `OIDC_PROVIDERS`. Each provider's discovery document is read at first use and again every
//! [`REDISCOVER`] (a provider that is down stops only its own button, and is tried again at the
//! next click); the `openidconnect` crate checks the ID token's signature, issuer, audience,
//! expiry and nonce. Who the person is in Uma is [`link`]'s business.

mod claims;
mod http;
pub mod link;

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreResponseType,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AuthType, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadataWithLogout,
    RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse, UserInfoClaims,
};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use url::Url;

use self::claims::Extra;
pub use self::claims::{ClaimError, Person};
use self::http::ProviderHttp;
use crate::config::{OidcConfig, OidcProvider};

/// How long a discovery document (and the keys it points to) is used before it is read again.
pub const REDISCOVER: Duration = Duration::from_secs(10 * 60);

/// The token answer, with every claim of the ID token kept.
type Tokens = StandardTokenResponse<
    IdTokenFields<
        Extra,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// A client of one provider, made from its discovery document.
type Client = openidconnect::Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a sign-in through a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// No provider of that name is configured.
    #[error("no sign-in provider is called '{0}'")]
    UnknownProvider(String),
    /// The provider can't be reached, or its answers can't be used.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code (used already, expired, for another client).
    #[error("the provider refused the sign-in: {0}")]
    Refused(String),
    /// The ID token failed a check (signature, issuer, audience, expiry, nonce).
    #[error("the provider's ID token is not valid: {0}")]
    InvalidToken(String),
    /// The claims don't make a Uma user.
    #[error("{0}")]
    Claims(#[from] ClaimError),
}

/// What the browser is sent to the provider with, and what its callback must find again.
#[derive(Debug)]
pub struct Started {
    /// The provider's authorization URL.
    pub url: Url,
    /// The `state` sent along.
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier of the challenge sent.
    pub pkce_verifier: String,
}

/// A verified sign-in: who the provider says it is, and the ID token that says so.
#[derive(Debug)]
pub struct Verified {
    /// The person.
    pub person: Person,
    /// The ID token as received (the hint of the provider's sign-out).
    pub id_token: String,
}

/// One provider and what is known of it.
struct Provider {
    config: OidcProvider,
    /// The discovery document and when it was read.
    metadata: Mutex<Option<(ProviderMetadataWithLogout, Instant)>>,
}

/// The configured providers.
pub struct Oidc {
    providers: Vec<Provider>,
    http: ProviderHttp,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .providers
            .iter()
            .map(|p| p.config.name.as_str())
            .collect();
        f.debug_struct("Oidc").field("providers", &names).finish()
    }
}

impl Oidc {
    /// The providers of the configuration (none read yet).
    pub fn new(config: &OidcConfig) -> Result<Self, String> {
        Ok(Self {
            providers: config
                .providers
                .iter()
                .map(|p| Provider {
                    config: p.clone(),
                    metadata: Mutex::new(None),
                })
                .collect(),
            http: ProviderHttp::new()?,
        })
    }

    /// The providers' settings, in the login page's order.
    pub fn providers(&self) -> impl Iterator<Item = &OidcProvider> {
        self.providers.iter().map(|p| &p.config)
    }

    /// The settings of the provider called `name`.
    pub fn provider(&self, name: &str) -> Option<&OidcProvider> {
        self.find(name).ok().map(|p| &p.config)
    }

    fn find(&self, name: &str) -> Result<&Provider, OidcError> {
        self.providers
            .iter()
            .find(|p| p.config.name == name)
            .ok_or_else(|| OidcError::UnknownProvider(name.to_owned()))
    }

    /// The provider's discovery document: the one read less than [`REDISCOVER`] ago, else read
    /// now (callers wait for one read). When a new read fails, an older document is used.
    async fn metadata(&self, p: &Provider) -> Result<ProviderMetadataWithLogout, OidcError> {
        let mut cached = p.metadata.lock().await;
        if let Some((m, at)) = cached.as_ref() {
            if at.elapsed() < REDISCOVER {
                return Ok(m.clone());
            }
        }
        let issuer = IssuerUrl::new(p.config.issuer.clone())
            .map_err(|e| OidcError::Unavailable(format!("issuer URL: {e}")))?;
        match ProviderMetadataWithLogout::discover_async(issuer, &self.http).await {
            Ok(m) => {
                *cached = Some((m.clone(), Instant::now()));
                Ok(m)
            }
            Err(e) => {
                let why = chain(&e);
                tracing::warn!(provider = %p.config.name, error = %why, "OpenID provider discovery failed");
                match cached.as_ref() {
                    Some((m, _)) => Ok(m.clone()),
                    None => Err(OidcError::Unavailable(why)),
                }
            }
        }
    }

    /// A client of `p` that comes back to `redirect_uri`.
    async fn client(&self, p: &Provider, redirect_uri: &str) -> Result<Client, OidcError> {
        let metadata = self.metadata(p).await?;
        let auth_type = auth_type(&metadata);
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OidcError::Unavailable(format!("redirect URI: {e}")))?;
        Ok(Client::from_provider_metadata(
            metadata,
            ClientId::new(p.config.client_id.clone()),
            p.config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().to_owned())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(auth_type))
    }

    /// Starts a sign-in at the provider `name`, coming back to `redirect_uri`.
    pub async fn start(&self, name: &str, redirect_uri: &str) -> Result<Started, OidcError> {
        let p = self.find(name)?;
        let client = self.client(p, redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in p.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: trades `code` for tokens, verifies the ID token against `nonce`,
    /// and reads the person from its claims (asking the userinfo endpoint for the username or
    /// groups when the ID token lacks them).
    pub async fn finish(
        &self,
        name: &str,
        redirect_uri: &str,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Verified, OidcError> {
        let p = self.find(name)?;
        let client = self.client(p, redirect_uri).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => {
                    OidcError::Refused(match r.error_description() {
                        Some(d) => format!("{} ({d})", r.error()),
                        None => r.error().to_string(),
                    })
                }
                RequestTokenError::Request(e) => OidcError::Unavailable(chain(&e)),
                other => OidcError::Unavailable(chain(&other)),
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the token answer has no ID token".into()))?;
        let verified = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| OidcError::InvalidToken(chain(&e)))?;
        let subject = verified.subject().to_string();
        let mut all = as_map(verified);
        let config = &p.config;
        if !all.contains_key(&config.username_claim) || !all.contains_key(&config.groups_claim) {
            self.add_userinfo(&client, &tokens, &subject, &mut all)
                .await?;
        }
        let person = claims::person(&all, &subject, &config.username_claim, &config.groups_claim)?;
        Ok(Verified {
            person,
            id_token: id_token.to_string(),
        })
    }

    /// Adds the userinfo endpoint's claims the ID token lacks (for the same subject only).
    async fn add_userinfo(
        &self,
        client: &Client,
        tokens: &Tokens,
        subject: &str,
        all: &mut Map<String, Value>,
    ) -> Result<(), OidcError> {
        let Ok(request) = client.user_info(
            tokens.access_token().clone(),
            Some(openidconnect::SubjectIdentifier::new(subject.to_owned())),
        ) else {
            return Ok(());
        };
        let info: UserInfoClaims<Extra, CoreGenderClaim> = request
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Unavailable(format!("userinfo: {}", chain(&e))))?;
        for (k, v) in as_map(&info) {
            all.entry(k).or_insert(v);
        }
        Ok(())
    }

    /// Where to send a browser to sign out at the provider `name` too, when it says where
    /// (`end_session_endpoint`): with the session's ID token as hint, Uma's client id, and
    /// `post_logout_redirect_uri` to come back to.
    pub async fn logout_url(
        &self,
        name: &str,
        id_token: Option<&str>,
        post_logout_redirect_uri: &str,
    ) -> Option<Url> {
        let p = self.find(name).ok()?;
        let metadata = self.metadata(p).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        let mut url = endpoint.url().clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(hint) = id_token {
                q.append_pair("id_token_hint", hint);
            }
            q.append_pair("client_id", &p.config.client_id);
            q.append_pair("post_logout_redirect_uri", post_logout_redirect_uri);
        }
        Some(url)
    }
}

/// `client_secret_basic` unless the provider only takes `client_secret_post`.
fn auth_type(metadata: &ProviderMetadataWithLogout) -> AuthType {
    match metadata.token_endpoint_auth_methods_supported() {
        Some(methods)
            if !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost) =>
        {
            AuthType::RequestBody
        }
        _ => AuthType::BasicAuth,
    }
}

/// Every claim as JSON, by name.
fn as_map(claims: &impl serde::Serialize) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
