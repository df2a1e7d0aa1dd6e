-- Uploads are stored once per content (the stored name is the content's SHA-256) and recorded
-- once per uploader, so each person's storage quota counts what they uploaded.
ALTER TABLE uploads DROP INDEX stored_name;
CREATE UNIQUE INDEX uploads_name_owner ON uploads (stored_name, uploaded_by);
CREATE INDEX uploads_uploaded_by ON uploads (uploaded_by);
