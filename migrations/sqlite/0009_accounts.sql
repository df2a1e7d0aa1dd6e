-- One-time links to choose a new password for a local account: only the SHA-256 of the link's
-- token is kept; a link is removed when used, and every link of an account when any is used.
CREATE TABLE password_resets (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX password_resets_user_id ON password_resets (user_id);

-- The theme a person chose in their settings (light or dark; none follows their system).
ALTER TABLE users ADD COLUMN theme TEXT;
