-- Tamper evidence: each audit row gets its place in one chain (chain_seq) and a hash over its
-- content and the previous row's hash (row_hash); audit_chain holds the chain's head, taken as a
-- lock by every writer, so rows written by several instances still form one chain; retention
-- leaves a signed checkpoint (the last pruned row's place and hash) to start verifying from.
ALTER TABLE audit_logs ADD COLUMN chain_seq BIGINT NULL, ADD COLUMN row_hash VARCHAR(64) NULL;
CREATE UNIQUE INDEX audit_logs_chain_seq ON audit_logs (chain_seq);

CREATE TABLE audit_chain (
    id    VARCHAR(16) PRIMARY KEY NOT NULL,
    seq   BIGINT NOT NULL,
    hash  VARCHAR(64) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
INSERT INTO audit_chain (id, seq, hash) VALUES ('head', 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_checkpoints (
    id          VARCHAR(191) PRIMARY KEY NOT NULL,
    seq         BIGINT NOT NULL,
    hash        VARCHAR(64) NOT NULL,
    signature   VARCHAR(64) NOT NULL,
    created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
