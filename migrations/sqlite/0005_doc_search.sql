-- Knowledge-base articles gain tags (a JSON array of strings) and full-text search over title,
-- subtitle, body and tags (FTS5; the store keeps docs_fts in step with docs).
ALTER TABLE docs ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

CREATE VIRTUAL TABLE docs_fts USING fts5(
    doc_id UNINDEXED,
    title,
    subtitle,
    content,
    tags,
    tokenize = 'unicode61 remove_diacritics 2'
);
