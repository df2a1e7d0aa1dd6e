-- Knowledge-base articles gain tags (a JSON array of strings) and full-text search over title,
-- subtitle, body and tags (an InnoDB FULLTEXT index).
ALTER TABLE docs ADD COLUMN tags TEXT NOT NULL DEFAULT ('[]');

CREATE FULLTEXT INDEX docs_search ON docs (title, subtitle, content, tags);
