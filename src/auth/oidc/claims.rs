//! What Uma reads from a provider's verified claims: the subject, the username (from the
//! configured claim), a display name and the groups (from the configured claim).

use openidconnect::AdditionalClaims;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest username taken from a provider (the users table holds 191 characters).
const USERNAME_MAX: usize = 128;
/// Most groups read from one token.
const GROUPS_MAX: usize = 500;
/// Longest group name kept.
const GROUP_MAX: usize = 256;

/// Every claim of an ID token or userinfo answer beyond the standard ones (`groups`, or
/// whatever the provider adds), kept as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    /// The claims, by name.
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl AdditionalClaims for Extra {}

/// A person as a provider describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The provider's `sub`: stable, never reassigned.
    pub subject: String,
    /// The username claim's value.
    pub username: String,
    /// `name`, else given and family names.
    pub display_name: Option<String>,
    /// The groups claim's values (none when the claim is absent).
    pub groups: Vec<String>,
}

/// Why the claims can't make a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// The username claim is absent or not text.
    #[error("the provider did not send the '{0}' claim")]
    NoUsername(String),
    /// The username claim's value can't be a Uma username.
    #[error("the '{claim}' claim ('{value}') can't be a username: {why}")]
    BadUsername {
        /// The claim.
        claim: String,
        /// Its value (clipped).
        value: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// The person the claims describe.
pub fn person(
    claims: &Map<String, Value>,
    subject: &str,
    username_claim: &str,
    groups_claim: &str,
) -> Result<Person, ClaimError> {
    let username = username(claims, username_claim)?;
    Ok(Person {
        subject: subject.to_owned(),
        username,
        display_name: display_name(claims),
        groups: groups(claims.get(groups_claim)),
    })
}

/// The username claim's value, checked.
fn username(claims: &Map<String, Value>, claim: &str) -> Result<String, ClaimError> {
    let value = claims
        .get(claim)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ClaimError::NoUsername(claim.to_owned()))?;
    let bad = |why| ClaimError::BadUsername {
        claim: claim.to_owned(),
        value: value.chars().take(64).collect(),
        why,
    };
    if value.chars().count() > USERNAME_MAX {
        return Err(bad("longer than 128 characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '/')
    {
        return Err(bad("it holds spaces, control characters or '/'"));
    }
    Ok(value.to_owned())
}

/// `name`, else `given_name family_name`.
fn display_name(claims: &Map<String, Value>) -> Option<String> {
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    text("name").map(str::to_owned).or_else(|| {
        let parts: Vec<&str> = [text("given_name"), text("family_name")]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    })
}

/// The groups claim: a list of names (or one name). Keycloak's full group paths lose their
/// leading `/` (`/devs` is `devs`, `/org/devs` is `org/devs`).
fn groups(value: Option<&Value>) -> Vec<String> {
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::String(_)) => vec![v],
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Some(name) = item.as_str().map(str::trim) else {
            continue;
        };
        let name = name.strip_prefix('/').unwrap_or(name);
        if name.is_empty() || name.chars().count() > GROUP_MAX || out.iter().any(|g| g == name) {
            continue;
        }
        out.push(name.to_owned());
        if out.len() == GROUPS_MAX {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn username_groups_and_names_come_from_the_configured_claims() {
        let claims = map(json!({
            "preferred_username": " alice ", "email": "alice@example.com",
            "given_name": "Alice", "family_name": "Liddell",
            "roles": ["/devs", "/org/ops", "devs", 7, ""],
        }));
        let p = person(&claims, "sub-1", "preferred_username", "roles").unwrap();
        assert_eq!(p.username, "alice");
        assert_eq!(p.display_name.as_deref(), Some("Alice Liddell"));
        assert_eq!(p.groups, ["devs", "org/ops"]);
        let p = person(&claims, "sub-1", "email", "groups").unwrap();
        assert_eq!(p.username, "alice@example.com");
        assert!(p.groups.is_empty());
    }

    #[test]
    fn a_missing_or_odd_username_is_refused() {
        let claims = map(json!({ "preferred_username": "a b", "n": 3, "long": "x".repeat(200) }));
        assert_eq!(
            person(&claims, "s", "email", "groups"),
            Err(ClaimError::NoUsername("email".into()))
        );
        assert_eq!(
            person(&claims, "s", "n", "groups"),
            Err(ClaimError::NoUsername("n".into()))
        );
        assert!(matches!(
            person(&claims, "s", "preferred_username", "groups"),
            Err(ClaimError::BadUsername { .. })
        ));
        assert!(matches!(
            person(&claims, "s", "long", "groups"),
            Err(ClaimError::BadUsername { .. })
        ));
    }
}
