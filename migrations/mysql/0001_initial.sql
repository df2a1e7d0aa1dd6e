-- Uma's schema (MariaDB). Times are UTC milliseconds since the epoch; JSON is stored as text;
-- booleans are 0/1. migrations/sqlite/0001_initial.sql is the same schema for SQLite.
-- Tables use utf8mb4_uca1400_nopad_as_cs: case- and accent-sensitive like SQLite (usernames and
-- emoji reactions compare exactly), and not a binary collation, so text decodes as text.

CREATE TABLE app_config (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    config_key  VARCHAR(191) NOT NULL UNIQUE,
    value       LONGTEXT NOT NULL,
    updated_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE notifications (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    message     TEXT NOT NULL,
    kind        VARCHAR(191) NOT NULL DEFAULT 'info',
    is_active   BOOLEAN NOT NULL DEFAULT TRUE,
    priority    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE users (
    id            VARCHAR(191) PRIMARY KEY NOT NULL,
    username      VARCHAR(191) NOT NULL UNIQUE,
    display_name  VARCHAR(191),
    avatar        TEXT,
    settings      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE local_accounts (
    user_id        VARCHAR(191) PRIMARY KEY NOT NULL,
    password_hash  VARCHAR(191) NOT NULL,
    is_admin       BOOLEAN NOT NULL DEFAULT FALSE,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE audit_logs (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    user_id     VARCHAR(191),
    username    VARCHAR(191) NOT NULL,
    action      VARCHAR(191) NOT NULL,
    resource    VARCHAR(191) NOT NULL,
    details     LONGTEXT NOT NULL,
    ip_address  VARCHAR(191),
    user_agent  TEXT,
    status      VARCHAR(191) NOT NULL DEFAULT 'SUCCESS',
    op_id       VARCHAR(191),
    created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX audit_logs_user_id ON audit_logs (user_id);
CREATE INDEX audit_logs_action ON audit_logs (action);
CREATE INDEX audit_logs_created_at ON audit_logs (created_at);

CREATE TABLE docs (
    id           VARCHAR(191) PRIMARY KEY NOT NULL,
    title        VARCHAR(191) NOT NULL,
    subtitle     VARCHAR(191),
    author       VARCHAR(191) NOT NULL,
    content      LONGTEXT NOT NULL,
    cover_image  TEXT,
    visited_by   BIGINT NOT NULL DEFAULT 0,
    published    BOOLEAN NOT NULL DEFAULT TRUE,
    pinned       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX docs_created_at ON docs (created_at);

CREATE TABLE doc_visits (
    doc_id      VARCHAR(191) NOT NULL,
    user_id     VARCHAR(191) NOT NULL,
    first_at    BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    visits      BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (doc_id, user_id),
    FOREIGN KEY (doc_id) REFERENCES docs(id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE uploads (
    id            VARCHAR(191) PRIMARY KEY NOT NULL,
    doc_id        VARCHAR(191),
    uploaded_by   VARCHAR(191) NOT NULL,
    file_name     VARCHAR(191) NOT NULL,
    stored_name   VARCHAR(191) NOT NULL UNIQUE,
    content_type  VARCHAR(191) NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        VARCHAR(191) NOT NULL,
    created_at    BIGINT NOT NULL,
    FOREIGN KEY (doc_id) REFERENCES docs(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX uploads_doc_id ON uploads (doc_id);

CREATE TABLE chat_groups (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    name        VARCHAR(191) NOT NULL,
    avatar      TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE group_members (
    group_id  VARCHAR(191) NOT NULL,
    user_id   VARCHAR(191) NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (group_id) REFERENCES chat_groups(id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX group_members_user_id ON group_members (user_id);

CREATE TABLE group_admins (
    group_id  VARCHAR(191) NOT NULL,
    user_id   VARCHAR(191) NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (group_id) REFERENCES chat_groups(id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX group_admins_user_id ON group_admins (user_id);

CREATE TABLE messages (
    id           VARCHAR(191) PRIMARY KEY NOT NULL,
    seq          BIGINT NOT NULL,
    content      LONGTEXT NOT NULL,
    sender_id    VARCHAR(191) NOT NULL,
    receiver_id  VARCHAR(191),
    group_id     VARCHAR(191),
    is_read      BOOLEAN NOT NULL DEFAULT FALSE,
    delivered    BOOLEAN NOT NULL DEFAULT FALSE,
    edited_at    BIGINT,
    deleted_at   BIGINT,
    reply_to_id  VARCHAR(191),
    kind         VARCHAR(191) NOT NULL DEFAULT 'text',
    metadata     LONGTEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    FOREIGN KEY (sender_id) REFERENCES users(id) ON DELETE CASCADE,
    FOREIGN KEY (receiver_id) REFERENCES users(id) ON DELETE CASCADE,
    FOREIGN KEY (group_id) REFERENCES chat_groups(id) ON DELETE CASCADE,
    FOREIGN KEY (reply_to_id) REFERENCES messages(id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX messages_sender_id ON messages (sender_id);
CREATE INDEX messages_receiver_id ON messages (receiver_id);
CREATE INDEX messages_group_id ON messages (group_id, seq);
CREATE INDEX messages_seq ON messages (seq);

CREATE TABLE reactions (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    emoji       VARCHAR(191) NOT NULL,
    user_id     VARCHAR(191) NOT NULL,
    message_id  VARCHAR(191) NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (user_id, message_id, emoji),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
    FOREIGN KEY (message_id) REFERENCES messages(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX reactions_message_id ON reactions (message_id);

CREATE TABLE blocks (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    blocker_id  VARCHAR(191) NOT NULL,
    blocked_id  VARCHAR(191) NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (blocker_id, blocked_id),
    FOREIGN KEY (blocker_id) REFERENCES users(id) ON DELETE CASCADE,
    FOREIGN KEY (blocked_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE whiteboard_states (
    id          VARCHAR(191) PRIMARY KEY NOT NULL DEFAULT 'default',
    elements    LONGTEXT NOT NULL DEFAULT '[]',
    updated_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE pool_limits (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    pool_id     VARCHAR(191) NOT NULL UNIQUE,
    max_vms     BIGINT NOT NULL DEFAULT 0,
    max_lxcs    BIGINT NOT NULL DEFAULT 0,
    max_vnets   BIGINT NOT NULL DEFAULT 0,
    max_cpu     BIGINT NOT NULL DEFAULT 0,
    max_memory  BIGINT NOT NULL DEFAULT 0,
    max_disk    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;

CREATE TABLE hardware_templates (
    id           VARCHAR(191) PRIMARY KEY NOT NULL,
    name         VARCHAR(191) NOT NULL,
    description  VARCHAR(191) NOT NULL DEFAULT '',
    category     VARCHAR(191) NOT NULL DEFAULT 'custom',
    config       LONGTEXT NOT NULL,
    owner        VARCHAR(191) NOT NULL,
    shared       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX hardware_templates_owner ON hardware_templates (owner);

CREATE TABLE sessions (
    id            VARCHAR(191) PRIMARY KEY NOT NULL,
    user_id       VARCHAR(191),
    username      VARCHAR(191) NOT NULL,
    display_name  VARCHAR(191),
    groups_json   TEXT NOT NULL DEFAULT '[]',
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    auth_source   VARCHAR(191) NOT NULL,
    csrf_token    VARCHAR(191) NOT NULL,
    ip_address    VARCHAR(191),
    user_agent    TEXT,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
