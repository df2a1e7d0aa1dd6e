-- Group read receipts: how far each member has read each group (messages.seq).
-- Direct messages keep their own `is_read` and `delivered` flags.
CREATE TABLE chat_reads (
    user_id        VARCHAR(191) NOT NULL,
    group_id       VARCHAR(191) NOT NULL,
    last_read_seq  BIGINT NOT NULL DEFAULT 0,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, group_id),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE,
    FOREIGN KEY (group_id) REFERENCES chat_groups(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
CREATE INDEX chat_reads_group_id ON chat_reads (group_id);
CREATE INDEX blocks_blocked_id ON blocks (blocked_id);
