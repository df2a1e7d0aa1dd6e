-- Guest ids that must not be handed to a new guest: backups of an earlier guest carry them
-- (recorded when Uma backs a guest up or finds backups, so they hold while a node is down).
CREATE TABLE held_guest_ids (
    vmid     BIGINT NOT NULL PRIMARY KEY,
    reason   VARCHAR(64) NOT NULL,
    seen_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
