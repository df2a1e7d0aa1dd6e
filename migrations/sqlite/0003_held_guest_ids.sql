-- Guest ids that must not be handed to a new guest: backups of an earlier guest carry them
-- (recorded when Uma backs a guest up or finds backups, so they hold while a node is down).
CREATE TABLE held_guest_ids (
    vmid     INTEGER NOT NULL PRIMARY KEY,
    reason   TEXT NOT NULL,
    seen_at  INTEGER NOT NULL
);
