-- Tamper evidence: each audit row gets its place in one chain (chain_seq) and a hash over its
-- content and the previous row's hash (row_hash); audit_chain holds the chain's head, taken as a
-- lock by every writer, so rows written by several instances still form one chain; retention
-- leaves a signed checkpoint (the last pruned row's place and hash) to start verifying from.
ALTER TABLE audit_logs ADD COLUMN chain_seq INTEGER;
ALTER TABLE audit_logs ADD COLUMN row_hash TEXT;
CREATE UNIQUE INDEX audit_logs_chain_seq ON audit_logs (chain_seq);

CREATE TABLE audit_chain (
    id    TEXT PRIMARY KEY NOT NULL,
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_chain (id, seq, hash) VALUES ('head', 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_checkpoints (
    id          TEXT PRIMARY KEY NOT NULL,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    signature   TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
