-- Passkeys (WebAuthn credentials): a second factor, and a way to sign in without a password.
-- `credential` is the relying party's record of it (public key, algorithm, flags) as JSON; the
-- signature counter is kept beside it so that a use is recorded by one compare-and-set.
-- `user_handle` is the random id the authenticator keeps for the person (the same for all of
-- their passkeys): a passkey sign-in names it, and it must match the passkey's owner.
CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_handle    TEXT NOT NULL,
    credential_id  TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    credential     TEXT NOT NULL,
    sign_count     INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- WebAuthn ceremonies under way (setting up a passkey, or using one): the relying party's state,
-- kept here and never sent to the browser, under the SHA-256 of the id the browser holds; bound
-- to a person (none for a passkey sign-in, which finds the person from the passkey), to the origin
-- it was started at, used once, for five minutes.
CREATE TABLE webauthn_ceremonies (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    user_id     TEXT REFERENCES users(id) ON DELETE CASCADE,
    origin      TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires_at ON webauthn_ceremonies (expires_at);
