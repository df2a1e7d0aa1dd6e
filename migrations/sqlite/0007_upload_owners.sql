-- Uploads are stored once per content (the stored name is the content's SHA-256) and recorded
-- once per uploader, so each person's storage quota counts what they uploaded.
CREATE TABLE uploads_new (
    id            TEXT PRIMARY KEY NOT NULL,
    doc_id        TEXT REFERENCES docs(id) ON DELETE CASCADE,
    uploaded_by   TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    stored_name   TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (stored_name, uploaded_by)
);
INSERT INTO uploads_new
    SELECT id, doc_id, uploaded_by, file_name, stored_name, content_type, size_bytes, sha256, created_at
    FROM uploads;
DROP TABLE uploads;
ALTER TABLE uploads_new RENAME TO uploads;
CREATE INDEX uploads_doc_id ON uploads (doc_id);
CREATE INDEX uploads_uploaded_by ON uploads (uploaded_by);
