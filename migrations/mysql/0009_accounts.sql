-- One-time links to choose a new password for a local account: only the SHA-256 of the link's
-- token is kept; a link is removed when used, and every link of an account when any is used.
CREATE TABLE password_resets (
    token_hash  VARCHAR(64) PRIMARY KEY NOT NULL,
    user_id     VARCHAR(191) NOT NULL,
    created_by  VARCHAR(191) NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    INDEX password_resets_user_id (user_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

-- The theme a person chose in their settings (light or dark; none follows their system).
ALTER TABLE users ADD COLUMN theme VARCHAR(16) NULL;
