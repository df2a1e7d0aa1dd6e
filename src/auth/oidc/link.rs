//! Who a provider's person is in Uma. A person (provider + `sub`) is bound to one Uma user at
//! their first sign-in and is that user ever after, whatever username the provider sends later.
//! A first sign-in whose username already belongs to someone — a local account, a directory
//! user, or a person of another provider (or of the same provider under another `sub`) — is
//! refused: a name never silently changes hands. Names are compared ignoring case and, as the
//! Proxmox ACLs compare them, by their account part (`alice@example.com` is `alice`).

use super::Person;
use crate::acl::local_name;
use crate::auth::{access_settings, decide, Identity};
use crate::config::Config;
use crate::store::oidc::OidcIdentity;
use crate::store::{now_ms, Store, StoreError};

/// Why a person can't sign in.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The name is someone else's.
    #[error("the name {0} already belongs to an account that signs in another way")]
    NameTaken(String),
    /// Not in an allowed group.
    #[error("not allowed to use this application")]
    NotAllowed,
    /// The database failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A person who may sign in: their identity, and whether this sign-in bound them.
#[derive(Debug)]
pub struct Linked {
    /// The identity a session is opened for (`source` `oidc`).
    pub identity: Identity,
    /// True when this was their first sign-in (the binding was made now).
    pub new: bool,
}

/// The Uma identity of `person` at `provider`: their bound user, or — at a first sign-in, if
/// the name is free and the access settings let them in — a new user bound to them.
pub async fn link(
    store: &Store,
    config: &Config,
    provider: &str,
    person: &Person,
) -> Result<Linked, LinkError> {
    let bound = match store.oidc_identity(provider, &person.subject).await? {
        Some(b) => store.user_by_id(&b.user_id).await?.map(|u| u.username),
        None => None,
    };
    let username = match &bound {
        Some(name) => name.clone(),
        None => {
            if name_taken(store, &person.username).await? {
                return Err(LinkError::NameTaken(person.username.clone()));
            }
            person.username.clone()
        }
    };
    let mut identity = Identity {
        username,
        display_name: person.display_name.clone(),
        groups: person.groups.clone(),
        group_dns: Vec::new(),
        is_admin: false,
        source: "oidc",
    };
    let verdict = decide(&identity, &access_settings(store, config).await);
    if !verdict.allowed {
        return Err(LinkError::NotAllowed);
    }
    identity.is_admin = verdict.is_admin;
    if bound.is_none() {
        bind(store, provider, person).await?;
    }
    Ok(Linked {
        identity,
        new: bound.is_none(),
    })
}

/// Whether `name` is a user's already (ignoring case, or by its account part).
async fn name_taken(store: &Store, name: &str) -> Result<bool, StoreError> {
    let part = local_name(name);
    Ok(store.all_users().await?.iter().any(|u| {
        u.username.eq_ignore_ascii_case(name) || local_name(&u.username).eq_ignore_ascii_case(part)
    }))
}

/// Makes the user and binds the person to it. Someone taking the name at the same moment
/// wins: this sign-in is then refused as a taken name.
async fn bind(store: &Store, provider: &str, person: &Person) -> Result<(), LinkError> {
    let taken = || LinkError::NameTaken(person.username.clone());
    let user = match store
        .create_user(&person.username, person.display_name.as_deref())
        .await
    {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => return Err(taken()),
        Err(e) => return Err(e.into()),
    };
    let binding = OidcIdentity {
        provider: provider.to_owned(),
        subject: person.subject.clone(),
        user_id: user.id.clone(),
        username: user.username.clone(),
        created_at: now_ms(),
    };
    match store.bind_oidc_identity(&binding).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(taken()),
        Err(e) => Err(e.into()),
    }
}

/// Whether `username` (ignoring case) is bound to a provider's person: such a name signs in
/// through its provider only, never through the directory.
pub async fn bound_to_a_provider(store: &Store, username: &str) -> Result<bool, StoreError> {
    store.oidc_bound_any_case(username).await
}
