-- A person's authenticator app (TOTP): its base32 secret, confirmed once a code from it was
-- accepted, and the last time step accepted, so that no code works twice.
CREATE TABLE user_totp (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret        TEXT NOT NULL,
    confirmed_at  INTEGER,
    last_step     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- One-time recovery codes: only their SHA-256 is kept; a code is removed when used.
CREATE TABLE recovery_codes (
    code_hash   TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX recovery_codes_user_id ON recovery_codes (user_id);

-- A sign-in whose password was right and whose second factor is still due (or must first be
-- set up): the browser holds the token (only its SHA-256 is kept), the row the verified identity.
CREATE TABLE sign_in_challenges (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    identity    TEXT NOT NULL,
    enrol       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sign_in_challenges_user_id ON sign_in_challenges (user_id);

-- When the session's holder last gave a second factor (sign-in or step-up); none: never.
ALTER TABLE sessions ADD COLUMN factor_at INTEGER;

-- API tokens for automation: only the SHA-256 of the secret is kept; groups as at creation.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    username      TEXT NOT NULL,
    name          TEXT NOT NULL,
    scope         TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    groups_json   TEXT NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    last_used_at  INTEGER
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);
