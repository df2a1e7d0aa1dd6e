//! LDAP / Active Directory sign-in (ldap3): bind as the service account, find the user with
//! `LDAP_USER_SEARCH_FILTER` (the name escaped), bind as the user to check the password, then
//! collect groups from `memberOf` (or a group search by member DN when it is empty). TLS:
//! `ldaps://`, or `ldap://` upgraded with StartTLS when `LDAP_STARTTLS=true`. The service
//! connection is kept and reused; user binds use a connection of their own.

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use tokio::sync::Mutex;

use super::{AuthError, Identity};
use crate::config::LdapConfig;
use crate::tls::{self, TrustSettings};

const TIMEOUT: Duration = Duration::from_secs(5);

/// An LDAP authenticator with its pooled service connection.
pub struct LdapAuth {
    config: LdapConfig,
    tls: Arc<rustls::ClientConfig>,
    service: Mutex<Option<Ldap>>,
}

impl std::fmt::Debug for LdapAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapAuth")
            .field("url", &self.config.url.as_str())
            .finish()
    }
}

/// The CN of a DN (`CN=Dev Team,OU=Groups,DC=x` → `Dev Team`); the DN itself when it has none.
pub fn cn_of(dn: &str) -> String {
    let first = dn.split(',').next().unwrap_or(dn).trim();
    match first.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("cn") => v.trim().to_owned(),
        _ => dn.to_owned(),
    }
}

/// Whether an `ADMIN_GROUPS` / allowed-groups entry is a DN (`cn=admins,ou=groups,…`) rather
/// than a bare group name.
pub fn is_dn(entry: &str) -> bool {
    entry.contains('=')
}

/// A DN in one spelling for comparison: RDNs split at unescaped commas, spaces around `,` `=`
/// and `+` dropped, attribute types and values lower-cased (directory names and group DNs
/// compare case-insensitively). Escapes are kept as written.
pub fn normalize_dn(dn: &str) -> String {
    let mut rdns = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' | ';' => rdns.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    rdns.push(current);
    rdns.iter()
        .map(|rdn| {
            rdn.split('+')
                .map(|ava| match ava.split_once('=') {
                    Some((k, v)) => format!("{}={}", k.trim(), v.trim()),
                    None => ava.trim().to_owned(),
                })
                .collect::<Vec<_>>()
                .join("+")
                .to_lowercase()
        })
        .filter(|rdn| !rdn.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// The user filter with the escaped name (RFC 4515: `*`, `(`, `)`, `\`, NUL can't widen it).
pub fn user_filter(template: &str, username: &str) -> String {
    template.replace("{{username}}", &ldap3::ldap_escape(username))
}

fn first(entry: &SearchEntry, attr: &str) -> Option<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first().cloned())
        .filter(|v| !v.is_empty())
}

fn all(entry: &SearchEntry, attr: &str) -> Vec<String> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The attributes that say an account may not sign in: Active Directory's flags and expiry,
/// the password policy overlay's lock, and 389 DS / OpenLDAP's `nsAccountLock`.
const ACCOUNT_STATE_ATTRS: [&str; 4] = [
    "userAccountControl",
    "accountExpires",
    "pwdAccountLockedTime",
    "nsAccountLock",
];

/// Whether the directory marks `entry` disabled, locked out or expired at `now`.
pub fn disabled_in_directory(entry: &SearchEntry, now: std::time::SystemTime) -> bool {
    // Active Directory: ACCOUNTDISABLE (0x2) or LOCKOUT (0x10).
    if first(entry, "userAccountControl")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .is_some_and(|flags| flags & (0x2 | 0x10) != 0)
    {
        return true;
    }
    // Active Directory: 100-ns intervals since 1601; 0 and i64::MAX mean never.
    if let Some(expires) = first(entry, "accountExpires").and_then(|v| v.trim().parse::<i64>().ok())
    {
        const FROM_1601: i64 = 11_644_473_600;
        let now_secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        if expires != 0 && expires != i64::MAX && expires / 10_000_000 - FROM_1601 <= now_secs {
            return true;
        }
    }
    first(entry, "pwdAccountLockedTime").is_some()
        || first(entry, "nsAccountLock").is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn unavailable(e: impl std::fmt::Display) -> AuthError {
    AuthError::Unavailable(e.to_string())
}

impl LdapAuth {
    /// An authenticator for `config` (which must be configured).
    pub fn new(config: LdapConfig) -> Result<Self, String> {
        let trust = TrustSettings {
            insecure: config.allow_insecure_tls,
            ..TrustSettings::default()
        };
        let tls = tls::client_config(&trust, &[]).map_err(|e| e.to_string())?;
        Ok(Self {
            config,
            tls: Arc::new(tls),
            service: Mutex::new(None),
        })
    }

    async fn connect(&self) -> Result<Ldap, AuthError> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(TIMEOUT)
            .set_config(self.tls.clone())
            .set_starttls(self.config.starttls && self.config.url.scheme() == "ldap");
        let (conn, ldap) = LdapConnAsync::with_settings(settings, self.config.url.as_str())
            .await
            .map_err(unavailable)?;
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });
        Ok(ldap)
    }

    /// A service-bound connection: the kept one, or a new one.
    async fn service(&self) -> Result<Ldap, AuthError> {
        let mut slot = self.service.lock().await;
        if let Some(ldap) = slot.as_mut() {
            if !ldap.is_closed() {
                return Ok(ldap.clone());
            }
        }
        let mut ldap = self.connect().await?;
        let dn = self.config.bind_dn.clone().unwrap_or_default();
        let pw = self
            .config
            .bind_password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        ldap.with_timeout(TIMEOUT)
            .simple_bind(&dn, &pw)
            .await
            .map_err(unavailable)?
            .success()
            .map_err(|e| AuthError::Unavailable(format!("service account bind failed: {e}")))?;
        *slot = Some(ldap.clone());
        Ok(ldap)
    }

    async fn search(
        &self,
        base: &str,
        filter: &str,
        attrs: &[&str],
    ) -> Result<Vec<SearchEntry>, AuthError> {
        self.search_at_most(base, filter, attrs, 0).await
    }

    /// A search by the service account; `most` > 0 asks the server for at most that many
    /// entries (what it found up to then is kept when it stops there).
    async fn search_at_most(
        &self,
        base: &str,
        filter: &str,
        attrs: &[&str],
        most: i32,
    ) -> Result<Vec<SearchEntry>, AuthError> {
        // One retry with a fresh connection when the kept one broke.
        for attempt in 0..2 {
            let mut ldap = self.service().await?;
            match ldap
                .with_timeout(TIMEOUT)
                .with_search_options(ldap3::SearchOptions::new().sizelimit(most))
                .search(base, Scope::Subtree, filter, attrs.to_vec())
                .await
            {
                Ok(res) => {
                    // 4: sizeLimitExceeded, with the entries up to the limit.
                    let entries = match res.1.rc {
                        0 => res.0,
                        4 if most > 0 => res.0,
                        _ => res.success().map_err(unavailable)?.0,
                    };
                    return Ok(entries.into_iter().map(SearchEntry::construct).collect());
                }
                Err(e) if attempt == 0 => {
                    tracing::debug!(error = %e, "LDAP search failed; reconnecting");
                    *self.service.lock().await = None;
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(AuthError::Unavailable("LDAP search failed".into()))
    }

    /// Verifies a user against the directory.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Identity, AuthError> {
        if password.is_empty() || username.is_empty() || username.contains('\0') {
            return Err(AuthError::InvalidCredentials);
        }
        let Some(entry) = self.entry_of(username).await? else {
            return Err(AuthError::InvalidCredentials);
        };
        let mut user_conn = self.connect().await?;
        let bound = user_conn
            .with_timeout(TIMEOUT)
            .simple_bind(&entry.dn, password)
            .await
            .map_err(unavailable)?;
        let _ = user_conn.unbind().await;
        if bound.rc != 0 {
            return Err(AuthError::InvalidCredentials);
        }
        self.identity_of(&entry, username).await
    }

    /// The one entry the user filter finds for `username` (none when it finds none or several:
    /// an ambiguous filter must not pick someone).
    async fn entry_of(&self, username: &str) -> Result<Option<SearchEntry>, AuthError> {
        let base = self.config.base_dn.clone().unwrap_or_default();
        let filter = user_filter(&self.config.user_search_filter, username);
        let attrs: Vec<&str> = self
            .config
            .search_attributes
            .iter()
            .map(String::as_str)
            .collect();
        let mut entries = self.search(&base, &filter, &attrs).await?;
        Ok((entries.len() == 1).then(|| entries.remove(0)))
    }

    /// Who the directory says `username` is, with their groups, without their password: for
    /// an administrator's "who may sign in" check. `None` when the directory doesn't know them.
    pub async fn lookup(&self, username: &str) -> Result<Option<Identity>, AuthError> {
        if username.is_empty() || username.contains('\0') {
            return Ok(None);
        }
        match self.entry_of(username).await? {
            Some(entry) => Ok(Some(self.identity_of(&entry, username).await?)),
            None => Ok(None),
        }
    }

    /// Who the directory says `username` is, for a sign-in without their password (a passkey):
    /// `Disabled` when the directory marks the account disabled, locked or expired (a password
    /// bind is refused by the directory itself; a lookup must check).
    pub async fn lookup_for_sign_in(&self, username: &str) -> Result<Option<Identity>, AuthError> {
        if username.is_empty() || username.contains('\0') {
            return Ok(None);
        }
        let mut attrs: Vec<&str> = self
            .config
            .search_attributes
            .iter()
            .map(String::as_str)
            .collect();
        attrs.extend(ACCOUNT_STATE_ATTRS);
        let base = self.config.base_dn.clone().unwrap_or_default();
        let filter = user_filter(&self.config.user_search_filter, username);
        let mut entries = self.search(&base, &filter, &attrs).await?;
        if entries.len() != 1 {
            return Ok(None);
        }
        let entry = entries.remove(0);
        if disabled_in_directory(&entry, std::time::SystemTime::now()) {
            return Err(AuthError::Disabled);
        }
        Ok(Some(self.identity_of(&entry, username).await?))
    }

    /// People whose account name, name or mail contains `text`: `(account name, display
    /// name)`, at most `most`.
    pub async fn search_people(
        &self,
        text: &str,
        most: usize,
    ) -> Result<Vec<(String, Option<String>)>, AuthError> {
        let base = self.config.base_dn.clone().unwrap_or_default();
        let t = ldap3::ldap_escape(text);
        let filter = format!(
            "(&(|(objectClass=person)(objectClass=inetOrgPerson)(objectClass=user))(|(uid=*{t}*)(sAMAccountName=*{t}*)(cn=*{t}*)(displayName=*{t}*)(mail=*{t}*)))"
        );
        let found = self
            .search_at_most(
                &base,
                &filter,
                &["uid", "sAMAccountName", "cn", "displayName"],
                i32::try_from(most).unwrap_or(i32::MAX),
            )
            .await?;
        Ok(found
            .iter()
            .filter_map(|e| {
                let name = first(e, "sAMAccountName").or_else(|| first(e, "uid"))?;
                Some((name, first(e, "displayName").or_else(|| first(e, "cn"))))
            })
            .take(most)
            .collect())
    }

    /// Group names (CNs) containing `text`, at most `most`.
    pub async fn search_groups(&self, text: &str, most: usize) -> Result<Vec<String>, AuthError> {
        let base = self
            .config
            .groups_base_dn
            .clone()
            .or_else(|| self.config.base_dn.clone())
            .unwrap_or_default();
        let t = ldap3::ldap_escape(text);
        let filter = format!(
            "(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group)(objectClass=posixGroup))(cn=*{t}*))"
        );
        let found = self
            .search_at_most(
                &base,
                &filter,
                &["cn"],
                i32::try_from(most).unwrap_or(i32::MAX),
            )
            .await?;
        let mut names: Vec<String> = found.iter().filter_map(|g| first(g, "cn")).collect();
        names.sort();
        names.dedup();
        names.truncate(most);
        Ok(names)
    }

    /// The identity of a directory entry, with its groups.
    async fn identity_of(
        &self,
        entry: &SearchEntry,
        username: &str,
    ) -> Result<Identity, AuthError> {
        let base = self.config.base_dn.clone().unwrap_or_default();
        let mut group_dns: Vec<String> = all(entry, "memberOf");
        let mut groups: Vec<String> = group_dns.iter().map(|dn| cn_of(dn)).collect();
        if groups.is_empty() {
            let gbase = self.config.groups_base_dn.clone().unwrap_or(base);
            let dn = ldap3::ldap_escape(&entry.dn);
            let filter = format!("(|(member={dn})(uniqueMember={dn}))");
            let found = self.search(&gbase, &filter, &["cn"]).await?;
            groups = found.iter().filter_map(|g| first(g, "cn")).collect();
            group_dns = found.iter().map(|g| g.dn.clone()).collect();
        }
        groups.sort();
        groups.dedup();
        let mut group_dns: Vec<String> = group_dns.iter().map(|dn| normalize_dn(dn)).collect();
        group_dns.sort();
        group_dns.dedup();
        let name = first(entry, "sAMAccountName")
            .or_else(|| first(entry, "uid"))
            .or_else(|| first(entry, "cn"))
            .unwrap_or_else(|| username.to_owned());
        Ok(Identity {
            username: name,
            display_name: first(entry, "displayName").or_else(|| first(entry, "cn")),
            groups,
            group_dns,
            is_admin: false,
            source: "ldap",
        })
    }

    /// Whether the directory answers (service bind), for readiness.
    pub async fn ping(&self) -> Result<(), AuthError> {
        self.service().await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_the_directory_turned_off_are_seen() {
        let entry = |pairs: &[(&str, &str)]| SearchEntry {
            dn: "uid=x,dc=example".into(),
            attrs: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
                .collect(),
            bin_attrs: std::collections::HashMap::new(),
        };
        // 2027-01-01 in AD time (100 ns since 1601) and as a system time.
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_798_761_600);
        let ad_2027 = ((1_798_761_600_i64 + 11_644_473_600) * 10_000_000).to_string();
        let ad_2030 = ((1_893_456_000_i64 + 11_644_473_600) * 10_000_000).to_string();
        assert!(!disabled_in_directory(&entry(&[]), now));
        assert!(!disabled_in_directory(
            &entry(&[("userAccountControl", "512")]),
            now
        ));
        assert!(disabled_in_directory(
            &entry(&[("userAccountControl", "514")]),
            now
        ));
        assert!(disabled_in_directory(
            &entry(&[("userAccountControl", "528")]),
            now
        ));
        assert!(disabled_in_directory(
            &entry(&[("accountExpires", &ad_2027)]),
            now
        ));
        assert!(!disabled_in_directory(
            &entry(&[("accountExpires", &ad_2030)]),
            now
        ));
        assert!(!disabled_in_directory(
            &entry(&[("accountExpires", "0")]),
            now
        ));
        assert!(!disabled_in_directory(
            &entry(&[("accountExpires", "9223372036854775807")]),
            now
        ));
        assert!(disabled_in_directory(
            &entry(&[("pwdAccountLockedTime", "000001010000Z")]),
            now
        ));
        assert!(disabled_in_directory(
            &entry(&[("nsAccountLock", "TRUE")]),
            now
        ));
        assert!(!disabled_in_directory(
            &entry(&[("nsAccountLock", "false")]),
            now
        ));
    }

    #[test]
    fn cn_extraction() {
        assert_eq!(cn_of("CN=Dev Team,OU=Groups,DC=x"), "Dev Team");
        assert_eq!(cn_of("cn=ops,ou=groups,dc=example,dc=com"), "ops");
        assert_eq!(cn_of("ou=x,dc=y"), "ou=x,dc=y");
    }

    #[test]
    fn dns_compare_in_one_spelling() {
        assert_eq!(
            normalize_dn("CN=Uma-Admins, OU=Groups, DC=example, DC=com"),
            "cn=uma-admins,ou=groups,dc=example,dc=com"
        );
        assert_eq!(
            normalize_dn("cn=Smith\\, John ,ou=People;dc=x"),
            "cn=smith\\, john,ou=people,dc=x"
        );
        assert_ne!(
            normalize_dn("cn=Uma-Admins,ou=partners,dc=example,dc=com"),
            normalize_dn("cn=Uma-Admins,ou=groups,dc=example,dc=com")
        );
        assert!(is_dn("cn=admins,dc=x"));
        assert!(!is_dn("Uma-Admins"));
    }

    #[test]
    fn filters_escape_injection() {
        let f = user_filter("(sAMAccountName={{username}})", "*)(uid=*");
        assert_eq!(f, "(sAMAccountName=\\2a\\29\\28uid=\\2a)");
        assert_eq!(user_filter("(uid={{username}})", "a\0b"), "(uid=a\\00b)");
    }
}
