-- Group read receipts: how far each member has read each group (messages.seq).
-- Direct messages keep their own `is_read` and `delivered` flags.
CREATE TABLE chat_reads (
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id       TEXT NOT NULL REFERENCES chat_groups(id) ON DELETE CASCADE,
    last_read_seq  INTEGER NOT NULL DEFAULT 0,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX chat_reads_group_id ON chat_reads (group_id);
CREATE INDEX blocks_blocked_id ON blocks (blocked_id);
