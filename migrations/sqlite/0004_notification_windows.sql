-- Notification banners gain a window (shown from, until) and a per-user dismissal.
ALTER TABLE notifications ADD COLUMN starts_at INTEGER;
ALTER TABLE notifications ADD COLUMN ends_at INTEGER;

CREATE TABLE notification_dismissals (
    notification_id TEXT NOT NULL,
    username        TEXT NOT NULL,
    dismissed_at    INTEGER NOT NULL,
    PRIMARY KEY (notification_id, username)
);
