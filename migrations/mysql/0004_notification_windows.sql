-- Notification banners gain a window (shown from, until) and a per-user dismissal.
ALTER TABLE notifications ADD COLUMN starts_at BIGINT NULL, ADD COLUMN ends_at BIGINT NULL;

CREATE TABLE notification_dismissals (
    notification_id VARCHAR(191) NOT NULL,
    username        VARCHAR(191) NOT NULL,
    dismissed_at    BIGINT NOT NULL,
    PRIMARY KEY (notification_id, username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_uca1400_nopad_as_cs;
