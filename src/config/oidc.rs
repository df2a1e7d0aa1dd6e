//! OpenID Connect sign-in: the providers of `OIDC_PROVIDERS`, each configured by its own
//! `OIDC_<NAME>_…` variables (issuer, client, button label, scopes and the claims Uma reads).

use std::collections::BTreeMap;

use url::Url;

use super::reader::Reader;
use super::Key;
use crate::secret::Secret;

/// This section's variables: name, default, secret. `<NAME>` is a provider's name from
/// `OIDC_PROVIDERS` in capitals, `-` written `_` (`OIDC_MY_IDP_ISSUER` for `my-idp`).
pub(super) const KEYS: &[Key] = &[
    ("OIDC_PROVIDERS", "", false),
    (ISSUER, "", false),
    (CLIENT_ID, "", false),
    (CLIENT_SECRET, "", true),
    (LABEL, "", false),
    (SCOPES, "openid profile email", false),
    (USERNAME_CLAIM, "preferred_username", false),
    (GROUPS_CLAIM, "groups", false),
];

const ISSUER: &str = "OIDC_<NAME>_ISSUER";
const CLIENT_ID: &str = "OIDC_<NAME>_CLIENT_ID";
const CLIENT_SECRET: &str = "OIDC_<NAME>_CLIENT_SECRET";
const LABEL: &str = "OIDC_<NAME>_LABEL";
const SCOPES: &str = "OIDC_<NAME>_SCOPES";
const USERNAME_CLAIM: &str = "OIDC_<NAME>_USERNAME_CLAIM";
const GROUPS_CLAIM: &str = "OIDC_<NAME>_GROUPS_CLAIM";

/// Longest provider name (it goes into paths, audit rows and session records).
const NAME_MAX: usize = 32;

/// The OpenID Connect providers, in the order of `OIDC_PROVIDERS` (the login page's order).
#[derive(Debug, Clone, Default)]
pub struct OidcConfig {
    /// Each configured provider.
    pub providers: Vec<OidcProvider>,
}

/// One OpenID provider Uma is registered with as a client.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// Its name in `OIDC_PROVIDERS`, in paths (`/api/auth/oidc/<name>/…`) and audit rows.
    pub name: String,
    /// The issuer as written (the provider's documents must name it exactly so, a trailing `/`
    /// included); its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// Uma's client id there.
    pub client_id: String,
    /// Uma's client secret there (`None`: a public client, PKCE only).
    pub client_secret: Option<Secret>,
    /// The sign-in button's text.
    pub label: String,
    /// Scopes asked for (always with `openid`).
    pub scopes: Vec<String>,
    /// The claim that gives the Uma username.
    pub username_claim: String,
    /// The claim that lists the person's groups.
    pub groups_claim: String,
}

impl OidcConfig {
    /// The provider called `name`.
    pub fn provider(&self, name: &str) -> Option<&OidcProvider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Whether `var` is one of a configured provider's variables (others starting with `OIDC_`
    /// are warned about: a provider missing from `OIDC_PROVIDERS`, or a typo).
    pub(super) fn knows(&self, var: &str) -> bool {
        self.providers.iter().any(|p| {
            var.strip_prefix(&prefix(&p.name)).is_some_and(|field| {
                KEYS.iter()
                    .any(|(key, _, _)| key.strip_prefix("OIDC_<NAME>_") == Some(field))
            })
        })
    }

    /// Reads `OIDC_PROVIDERS` and each provider's variables.
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let mut providers: Vec<OidcProvider> = Vec::new();
        for name in r.list("OIDC_PROVIDERS") {
            let name = name.to_ascii_lowercase();
            if !valid_name(&name) {
                r.problem(
                    "OIDC_PROVIDERS",
                    format!("'{name}' is not a provider name: use up to {NAME_MAX} letters, digits, '-' or '_', starting with a letter"),
                );
                continue;
            }
            if providers.iter().any(|p| prefix(&p.name) == prefix(&name)) {
                r.problem(
                    "OIDC_PROVIDERS",
                    format!(
                        "'{name}' is listed twice (or as another name with the same variables)"
                    ),
                );
                continue;
            }
            if let Some(p) = read_provider(r, &name) {
                providers.push(p);
            }
        }
        Self { providers }
    }

    /// One line per variable: `OIDC_PROVIDERS`, then each `OIDC_<NAME>_…` as
    /// `name=value; name=value` (secrets redacted).
    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        let names: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
        m.insert(
            "OIDC_PROVIDERS",
            super::list(&names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()),
        );
        if self.providers.is_empty() {
            return;
        }
        let fields: [Field; 7] = [
            (ISSUER, |p| p.issuer.clone()),
            (CLIENT_ID, |p| p.client_id.clone()),
            (CLIENT_SECRET, |p| match p.client_secret {
                Some(_) => "[redacted]".to_owned(),
                None => "(unset: a public client)".to_owned(),
            }),
            (LABEL, |p| p.label.clone()),
            (SCOPES, |p| p.scopes.join(" ")),
            (USERNAME_CLAIM, |p| p.username_claim.clone()),
            (GROUPS_CLAIM, |p| p.groups_claim.clone()),
        ];
        for (key, value) in fields {
            let line: Vec<String> = self
                .providers
                .iter()
                .map(|p| format!("{}={}", p.name, value(p)))
                .collect();
            m.insert(key, line.join("; "));
        }
    }
}

/// A variable and how a provider's value of it is shown.
type Field = (&'static str, fn(&OidcProvider) -> String);

/// Letters, digits, `-` and `_`, starting with a letter, at most [`NAME_MAX`] long.
fn valid_name(name: &str) -> bool {
    name.len() <= NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `OIDC_<NAME>_` of a provider name.
fn prefix(name: &str) -> String {
    format!("OIDC_{}_", name.to_ascii_uppercase().replace('-', "_"))
}

/// One provider's variables; `None` (problems recorded) when it can't be used.
fn read_provider(r: &mut Reader<'_>, name: &str) -> Option<OidcProvider> {
    let var = |field: &str| format!("{}{field}", prefix(name));
    let issuer = match r.raw_named(ISSUER, &var("ISSUER")) {
        Some(value) => issuer_url(r, &var("ISSUER"), &value),
        None => {
            r.problem(
                ISSUER,
                format!("{} is required for the provider '{name}' (its issuer URL, e.g. https://idp.example.com/realms/main)", var("ISSUER")),
            );
            None
        }
    };
    let client_id = r.raw_named(CLIENT_ID, &var("CLIENT_ID"));
    if client_id.is_none() {
        r.problem(
            CLIENT_ID,
            format!(
                "{} is required for the provider '{name}' (Uma's client id there)",
                var("CLIENT_ID")
            ),
        );
    }
    let client_secret = r.raw_named(CLIENT_SECRET, &var("CLIENT_SECRET"));
    let label = r
        .raw_named(LABEL, &var("LABEL"))
        .unwrap_or_else(|| default_label(name));
    let mut scopes: Vec<String> = r
        .raw_named(SCOPES, &var("SCOPES"))
        .unwrap_or_else(|| "openid profile email".to_owned())
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".to_owned());
    }
    let claim = |r: &mut Reader<'_>, key: &'static str, field: &str, default: &str| {
        r.raw_named(key, &var(field))
            .unwrap_or_else(|| default.to_owned())
    };
    let username_claim = claim(r, USERNAME_CLAIM, "USERNAME_CLAIM", "preferred_username");
    let groups_claim = claim(r, GROUPS_CLAIM, "GROUPS_CLAIM", "groups");
    Some(OidcProvider {
        name: name.to_owned(),
        issuer: issuer?,
        client_id: client_id?,
        client_secret: client_secret.map(Secret::new),
        label,
        scopes,
        username_claim,
        groups_claim,
    })
}

/// An issuer URL: `https://`, or `http://` on a loopback address (a provider on this machine).
fn issuer_url(r: &mut Reader<'_>, var: &str, value: &str) -> Option<String> {
    let refuse = |r: &mut Reader<'_>, why: &str| {
        r.problem(ISSUER, format!("{var}='{value}' {why}"));
        None
    };
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(e) => return refuse(r, &format!("is not a valid URL ({e})")),
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return refuse(r, "has no host"),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return refuse(
                r,
                "must be https:// (http:// only for a provider on this machine)",
            )
        }
        other => return refuse(r, &format!("has scheme '{other}', expected https")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return refuse(r, "must not have a query or a fragment");
    }
    Some(value.to_owned())
}

/// `keycloak` → `Keycloak`.
fn default_label(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use std::collections::HashMap;

    use crate::config::{Config, Problem};

    fn read(pairs: &[(&str, &str)]) -> Result<Config, Vec<Problem>> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_vars(&vars)
    }

    #[test]
    fn providers_have_defaults_and_their_own_variables() {
        let c = read(&[
            ("OIDC_PROVIDERS", "Keycloak, my-idp"),
            (
                "OIDC_KEYCLOAK_ISSUER",
                "https://sso.example.com/realms/main",
            ),
            ("OIDC_KEYCLOAK_CLIENT_ID", "uma"),
            ("OIDC_KEYCLOAK_CLIENT_SECRET", "s3cret"),
            ("OIDC_MY_IDP_ISSUER", "http://127.0.0.1:9000"),
            ("OIDC_MY_IDP_CLIENT_ID", "uma-public"),
            ("OIDC_MY_IDP_LABEL", "Our IdP"),
            ("OIDC_MY_IDP_SCOPES", "profile groups"),
            ("OIDC_MY_IDP_USERNAME_CLAIM", "email"),
            ("OIDC_MY_IDP_GROUPS_CLAIM", "roles"),
            ("OIDC_OTHER_ISSUER", "https://elsewhere.example"),
        ])
        .unwrap();
        let [kc, mine] = c.oidc.providers.as_slice() else {
            panic!("two providers expected: {:?}", c.oidc.providers);
        };
        assert_eq!(kc.name, "keycloak");
        assert_eq!(kc.label, "Keycloak");
        assert_eq!(kc.issuer, "https://sso.example.com/realms/main");
        assert_eq!(kc.client_secret.as_ref().unwrap().expose(), "s3cret");
        assert_eq!(kc.scopes, ["openid", "profile", "email"]);
        assert_eq!(
            (kc.username_claim.as_str(), kc.groups_claim.as_str()),
            ("preferred_username", "groups")
        );
        assert_eq!(mine.name, "my-idp");
        assert_eq!(mine.label, "Our IdP");
        assert!(mine.client_secret.is_none());
        assert_eq!(mine.scopes, ["openid", "profile", "groups"]);
        assert_eq!(
            (mine.username_claim.as_str(), mine.groups_claim.as_str()),
            ("email", "roles")
        );
        // A provider missing from the list is a typo to warn about.
        assert_eq!(c.unknown_keys, ["OIDC_OTHER_ISSUER"]);
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(c.effective().values().all(|v| !v.contains("s3cret")));
    }

    #[test]
    fn each_bad_provider_setting_is_one_problem() {
        let problems = read(&[
            ("OIDC_PROVIDERS", "a,b,c,d,d,1x"),
            ("OIDC_A_ISSUER", "http://idp.example.com"),
            ("OIDC_A_CLIENT_ID", "uma"),
            ("OIDC_B_ISSUER", "https://idp.example.com/?x=1"),
            ("OIDC_B_CLIENT_ID", "uma"),
            ("OIDC_C_ISSUER", "not a url"),
            ("OIDC_D_ISSUER", "https://idp.example.com"),
            ("OIDC_D_CLIENT_ID", "uma"),
        ])
        .err()
        .unwrap();
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let has = |s: &str| lines.iter().any(|l| l.contains(s));
        assert!(
            has("OIDC_A_ISSUER='http://idp.example.com' must be https://"),
            "{lines:?}"
        );
        assert!(
            has("OIDC_B_ISSUER='https://idp.example.com/?x=1' must not have a query"),
            "{lines:?}"
        );
        assert!(
            has("OIDC_C_ISSUER='not a url' is not a valid URL"),
            "{lines:?}"
        );
        assert!(has("OIDC_C_CLIENT_ID is required"), "{lines:?}");
        assert!(has("'d' is listed twice"), "{lines:?}");
        assert!(has("'1x' is not a provider name"), "{lines:?}");
        assert_eq!(lines.len(), 6, "{lines:?}");
    }

    #[test]
    fn production_needs_the_public_origin_for_redirect_uris() {
        let secret = "x".repeat(40);
        let base = [
            ("UMA_ENV", "production"),
            ("SECRET_COOKIE_PASSWORD", secret.as_str()),
            ("OIDC_PROVIDERS", "sso"),
            ("OIDC_SSO_ISSUER", "https://sso.example.com"),
            ("OIDC_SSO_CLIENT_ID", "uma"),
        ];
        let problems = read(&base).err().unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "APP_ORIGIN");
        let mut with_origin = base.to_vec();
        with_origin.push(("APP_ORIGIN", "https://uma.example.com"));
        assert!(read(&with_origin).is_ok());
    }

    #[test]
    fn a_client_secret_may_come_from_a_file() {
        let dir = std::env::temp_dir().join(format!("uma-oidc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "from-a-file\n").unwrap();
        let c = read(&[
            ("OIDC_PROVIDERS", "sso"),
            ("OIDC_SSO_ISSUER", "https://sso.example.com"),
            ("OIDC_SSO_CLIENT_ID", "uma"),
            ("OIDC_SSO_CLIENT_SECRET_FILE", file.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(
            c.oidc.providers[0].client_secret.as_ref().unwrap().expose(),
            "from-a-file"
        );
        assert!(c.unknown_keys.is_empty(), "{:?}", c.unknown_keys);
        std::fs::remove_dir_all(&dir).ok();
    }
}
