-- OpenID Connect sign-in. A provider's person (provider + subject) is bound to one Uma user at
-- their first sign-in and signs in as that user ever after, whatever name the provider gives
-- later; a name that already belongs to another user is never bound.
CREATE TABLE oidc_identities (
    provider    VARCHAR(64) NOT NULL,
    subject     VARCHAR(255) NOT NULL,
    user_id     VARCHAR(191) NOT NULL,
    username    VARCHAR(191) NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, subject),
    INDEX oidc_identities_user_id (user_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

-- Sign-ins on their way through a provider: what the callback needs (nonce, PKCE verifier,
-- redirect URI, where to go next), under the SHA-256 of the `state` sent along, bound to the
-- browser that started it (the SHA-256 of its cookie), used once, for ten minutes.
CREATE TABLE oidc_logins (
    state_hash     VARCHAR(64) PRIMARY KEY NOT NULL,
    provider       VARCHAR(64) NOT NULL,
    browser_hash   VARCHAR(64) NOT NULL,
    nonce          VARCHAR(191) NOT NULL,
    pkce_verifier  VARCHAR(191) NOT NULL,
    redirect_uri   TEXT NOT NULL,
    next_path      TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    INDEX oidc_logins_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

-- The provider and ID token of a session opened through OpenID Connect, for the provider's
-- sign-out (the token is its `id_token_hint`); gone with the session.
CREATE TABLE oidc_sessions (
    session_id  VARCHAR(191) PRIMARY KEY NOT NULL,
    provider    VARCHAR(64) NOT NULL,
    id_token    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
