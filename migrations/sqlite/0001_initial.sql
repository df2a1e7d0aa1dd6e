-- Uma's schema (SQLite). Times are UTC milliseconds since the epoch; JSON is stored as text;
-- booleans are 0/1. migrations/mysql/0001_initial.sql is the same schema for MariaDB.

CREATE TABLE app_config (
    id          TEXT PRIMARY KEY NOT NULL,
    config_key  TEXT NOT NULL UNIQUE,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE notifications (
    id          TEXT PRIMARY KEY NOT NULL,
    message     TEXT NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'info',
    is_active   BOOLEAN NOT NULL DEFAULT 1,
    priority    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT,
    avatar        TEXT,
    settings      TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE local_accounts (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    is_admin       BOOLEAN NOT NULL DEFAULT 0,
    disabled       BOOLEAN NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE audit_logs (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT,
    username    TEXT NOT NULL,
    action      TEXT NOT NULL,
    resource    TEXT NOT NULL,
    details     TEXT NOT NULL,
    ip_address  TEXT,
    user_agent  TEXT,
    status      TEXT NOT NULL DEFAULT 'SUCCESS',
    op_id       TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_logs_user_id ON audit_logs (user_id);
CREATE INDEX audit_logs_action ON audit_logs (action);
CREATE INDEX audit_logs_created_at ON audit_logs (created_at);

CREATE TABLE docs (
    id           TEXT PRIMARY KEY NOT NULL,
    title        TEXT NOT NULL,
    subtitle     TEXT,
    author       TEXT NOT NULL,
    content      TEXT NOT NULL,
    cover_image  TEXT,
    visited_by   INTEGER NOT NULL DEFAULT 0,
    published    BOOLEAN NOT NULL DEFAULT 1,
    pinned       BOOLEAN NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX docs_created_at ON docs (created_at);

CREATE TABLE doc_visits (
    doc_id      TEXT NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    visits      INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (doc_id, user_id)
);

CREATE TABLE uploads (
    id            TEXT PRIMARY KEY NOT NULL,
    doc_id        TEXT REFERENCES docs(id) ON DELETE CASCADE,
    uploaded_by   TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    stored_name   TEXT NOT NULL UNIQUE,
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX uploads_doc_id ON uploads (doc_id);

CREATE TABLE chat_groups (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    avatar      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_id ON group_members (user_id);

CREATE TABLE group_admins (
    group_id  TEXT NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_admins_user_id ON group_admins (user_id);

CREATE TABLE messages (
    id           TEXT PRIMARY KEY NOT NULL,
    seq          INTEGER NOT NULL,
    content      TEXT NOT NULL,
    sender_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    receiver_id  TEXT REFERENCES users(id) ON DELETE CASCADE,
    group_id     TEXT REFERENCES chat_groups(id) ON DELETE CASCADE,
    is_read      BOOLEAN NOT NULL DEFAULT 0,
    delivered    BOOLEAN NOT NULL DEFAULT 0,
    edited_at    INTEGER,
    deleted_at   INTEGER,
    reply_to_id  TEXT REFERENCES messages(id) ON DELETE SET NULL,
    kind         TEXT NOT NULL DEFAULT 'text',
    metadata     TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX messages_sender_id ON messages (sender_id);
CREATE INDEX messages_receiver_id ON messages (receiver_id);
CREATE INDEX messages_group_id ON messages (group_id, seq);
CREATE INDEX messages_seq ON messages (seq);

CREATE TABLE reactions (
    id          TEXT PRIMARY KEY NOT NULL,
    emoji       TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    UNIQUE (user_id, message_id, emoji)
);
CREATE INDEX reactions_message_id ON reactions (message_id);

CREATE TABLE blocks (
    id          TEXT PRIMARY KEY NOT NULL,
    blocker_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    UNIQUE (blocker_id, blocked_id)
);

CREATE TABLE whiteboard_states (
    id          TEXT PRIMARY KEY NOT NULL DEFAULT 'default',
    elements    TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL
);

CREATE TABLE pool_limits (
    id          TEXT PRIMARY KEY NOT NULL,
    pool_id     TEXT NOT NULL UNIQUE,
    max_vms     INTEGER NOT NULL DEFAULT 0,
    max_lxcs    INTEGER NOT NULL DEFAULT 0,
    max_vnets   INTEGER NOT NULL DEFAULT 0,
    max_cpu     INTEGER NOT NULL DEFAULT 0,
    max_memory  INTEGER NOT NULL DEFAULT 0,
    max_disk    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE hardware_templates (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL DEFAULT 'custom',
    config       TEXT NOT NULL,
    owner        TEXT NOT NULL,
    shared       BOOLEAN NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX hardware_templates_owner ON hardware_templates (owner);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT REFERENCES users(id) ON DELETE CASCADE,
    username      TEXT NOT NULL,
    display_name  TEXT,
    groups_json   TEXT NOT NULL DEFAULT '[]',
    is_admin      BOOLEAN NOT NULL DEFAULT 0,
    auth_source   TEXT NOT NULL,
    csrf_token    TEXT NOT NULL,
    ip_address    TEXT,
    user_agent    TEXT,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
