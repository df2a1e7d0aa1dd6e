-- A person's authenticator app (TOTP): its base32 secret, confirmed once a code from it was
-- accepted, and the last time step accepted, so that no code works twice.
CREATE TABLE user_totp (
    user_id       VARCHAR(191) PRIMARY KEY NOT NULL,
    secret        VARCHAR(128) NOT NULL,
    confirmed_at  BIGINT NULL,
    last_step     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

-- One-time recovery codes: only their SHA-256 is kept; a code is removed when used.
CREATE TABLE recovery_codes (
    code_hash   VARCHAR(64) PRIMARY KEY NOT NULL,
    user_id     VARCHAR(191) NOT NULL,
    created_at  BIGINT NOT NULL,
    INDEX recovery_codes_user_id (user_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

-- A sign-in whose password was right and whose second factor is still due (or must first be
-- set up): the browser holds the token (only its SHA-256 is kept), the row the verified identity.
CREATE TABLE sign_in_challenges (
    token_hash  VARCHAR(64) PRIMARY KEY NOT NULL,
    user_id     VARCHAR(191) NOT NULL,
    identity    MEDIUMTEXT NOT NULL,
    enrol       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    INDEX sign_in_challenges_user_id (user_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

-- When the session's holder last gave a second factor (sign-in or step-up); none: never.
ALTER TABLE sessions ADD COLUMN factor_at BIGINT NULL;

-- API tokens for automation: only the SHA-256 of the secret is kept; groups as at creation.
CREATE TABLE api_tokens (
    id            VARCHAR(64) PRIMARY KEY NOT NULL,
    user_id       VARCHAR(191) NOT NULL,
    username      VARCHAR(191) NOT NULL,
    name          VARCHAR(191) NOT NULL,
    scope         VARCHAR(16) NOT NULL,
    token_hash    VARCHAR(64) NOT NULL UNIQUE,
    groups_json   MEDIUMTEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NULL,
    last_used_at  BIGINT NULL,
    INDEX api_tokens_user_id (user_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
