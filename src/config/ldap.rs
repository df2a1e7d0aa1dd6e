//! LDAP / Active Directory sign-in.

use std::collections::BTreeMap;

use url::Url;

use super::reader::Reader;
use super::{list, unset, Key};
use crate::secret::Secret;

/// This section's variables: name, default, secret.
pub(super) const KEYS: &[Key] = &[
    ("LDAP_URL", "ldap://localhost:389", false),
    ("LDAP_BIND_DN", "", false),
    ("LDAP_BIND_PASSWORD", "", true),
    ("LDAP_BASE_DN", "", false),
    ("LDAP_GROUPS_BASE_DN", "", false),
    (
        "LDAP_USER_SEARCH_FILTER",
        "(sAMAccountName={{username}})",
        false,
    ),
    (
        "LDAP_SEARCH_ATTRIBUTES",
        "sAMAccountName,cn,memberOf,mail,displayName",
        false,
    ),
    ("LDAP_ALLOW_INSECURE_TLS", "false", false),
    ("LDAP_STARTTLS", "false", false),
];

/// LDAP / Active Directory settings.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://` or `ldaps://` URL.
    pub url: Url,
    /// Service account DN.
    pub bind_dn: Option<String>,
    /// Service account password.
    pub bind_password: Option<Secret>,
    /// Base DN of user searches.
    pub base_dn: Option<String>,
    /// Base DN of group searches (defaults to `base_dn`).
    pub groups_base_dn: Option<String>,
    /// Filter with `{{username}}`.
    pub user_search_filter: String,
    /// Attributes to fetch.
    pub search_attributes: Vec<String>,
    /// Accept any certificate (`LDAP_ALLOW_INSECURE_TLS`).
    pub allow_insecure_tls: bool,
    /// Upgrade `ldap://` connections with StartTLS (`LDAP_STARTTLS`).
    pub starttls: bool,
}

impl LdapConfig {
    /// LDAP sign-in is configured when the service account and base DN are set.
    pub fn is_configured(&self) -> bool {
        self.bind_dn.is_some() && self.bind_password.is_some() && self.base_dn.is_some()
    }

    /// `None` when `LDAP_URL` is unusable (the problem is recorded).
    pub(super) fn read(r: &mut Reader<'_>) -> Option<Self> {
        let url = r
            .url("LDAP_URL", &["ldap", "ldaps"])
            .or_else(|| Url::parse("ldap://localhost:389").ok());
        let user_search_filter = r.string("LDAP_USER_SEARCH_FILTER");
        if !user_search_filter.contains("{{username}}") {
            r.problem(
                "LDAP_USER_SEARCH_FILTER",
                "must contain {{username}} where the user name goes",
            );
        }
        Some(Self {
            url: url?,
            bind_dn: r.opt("LDAP_BIND_DN"),
            bind_password: r.secret("LDAP_BIND_PASSWORD"),
            base_dn: r.opt("LDAP_BASE_DN"),
            groups_base_dn: r.opt("LDAP_GROUPS_BASE_DN"),
            user_search_filter,
            search_attributes: r.list("LDAP_SEARCH_ATTRIBUTES"),
            allow_insecure_tls: r.bool("LDAP_ALLOW_INSECURE_TLS"),
            starttls: r.bool("LDAP_STARTTLS"),
        })
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert("LDAP_URL", self.url.to_string());
        m.insert("LDAP_BIND_DN", unset(&self.bind_dn, Clone::clone));
        m.insert(
            "LDAP_BIND_PASSWORD",
            unset(&self.bind_password, |_| "[redacted]".to_owned()),
        );
        m.insert("LDAP_BASE_DN", unset(&self.base_dn, Clone::clone));
        m.insert(
            "LDAP_GROUPS_BASE_DN",
            self.groups_base_dn
                .clone()
                .unwrap_or_else(|| "(LDAP_BASE_DN)".to_owned()),
        );
        m.insert("LDAP_USER_SEARCH_FILTER", self.user_search_filter.clone());
        m.insert("LDAP_SEARCH_ATTRIBUTES", list(&self.search_attributes));
        m.insert(
            "LDAP_ALLOW_INSECURE_TLS",
            self.allow_insecure_tls.to_string(),
        );
        m.insert("LDAP_STARTTLS", self.starttls.to_string());
    }
}
