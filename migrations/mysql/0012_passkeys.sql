-- Passkeys (WebAuthn credentials): a second factor, and a way to sign in without a password.
-- `credential` is the relying party's record of it (public key, algorithm, flags) as JSON; the
-- signature counter is kept beside it so that a use is recorded by one compare-and-set.
-- `user_handle` is the random id the authenticator keeps for the person (the same for all of
-- their passkeys): a passkey sign-in names it, and it must match the passkey's owner.
CREATE TABLE passkeys (
    id             VARCHAR(64) PRIMARY KEY NOT NULL,
    user_id        VARCHAR(191) NOT NULL,
    user_handle    VARCHAR(64) NOT NULL,
    credential_id  VARCHAR(512) NOT NULL,
    name           VARCHAR(191) NOT NULL,
    credential     MEDIUMTEXT NOT NULL,
    sign_count     BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT NULL,
    UNIQUE KEY passkeys_credential_id (credential_id),
    INDEX passkeys_user_id (user_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

-- WebAuthn ceremonies under way (setting up a passkey, or using one): the relying party's state,
-- kept here and never sent to the browser, under the SHA-256 of the id the browser holds; bound
-- to a person (none for a passkey sign-in, which finds the person from the passkey), to the origin
-- it was started at, used once, for five minutes.
CREATE TABLE webauthn_ceremonies (
    id_hash     VARCHAR(64) PRIMARY KEY NOT NULL,
    kind        VARCHAR(16) NOT NULL,
    user_id     VARCHAR(191) NULL,
    origin      VARCHAR(512) NOT NULL,
    state       MEDIUMTEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    INDEX webauthn_ceremonies_expires_at (expires_at),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
