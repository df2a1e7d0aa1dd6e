-- OpenID Connect sign-in. A provider's person (provider + subject) is bound to one Uma user at
-- their first sign-in and signs in as that user ever after, whatever name the provider gives
-- later; a name that already belongs to another user is never bound.
CREATE TABLE oidc_identities (
    provider    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    username    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX oidc_identities_user_id ON oidc_identities (user_id);

-- Sign-ins on their way through a provider: what the callback needs (nonce, PKCE verifier,
-- redirect URI, where to go next), under the SHA-256 of the `state` sent along, bound to the
-- browser that started it (the SHA-256 of its cookie), used once, for ten minutes.
CREATE TABLE oidc_logins (
    state_hash     TEXT PRIMARY KEY NOT NULL,
    provider       TEXT NOT NULL,
    browser_hash   TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    next_path      TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX oidc_logins_expires_at ON oidc_logins (expires_at);

-- The provider and ID token of a session opened through OpenID Connect, for the provider's
-- sign-out (the token is its `id_token_hint`); gone with the session.
CREATE TABLE oidc_sessions (
    session_id  TEXT PRIMARY KEY NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    provider    TEXT NOT NULL,
    id_token    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
