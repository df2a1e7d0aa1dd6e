-- The search index follows docs by triggers, in the same statement as the change (so it can't
-- drift from the table), and articles written before the index existed are indexed.
DELETE FROM docs_fts;

INSERT INTO docs_fts (doc_id, title, subtitle, content, tags)
SELECT id, title, COALESCE(subtitle, ''), content,
       COALESCE((SELECT group_concat(value, ' ') FROM json_each(docs.tags)), '')
FROM docs;

CREATE TRIGGER docs_fts_insert AFTER INSERT ON docs BEGIN
    INSERT INTO docs_fts (doc_id, title, subtitle, content, tags)
    VALUES (new.id, new.title, COALESCE(new.subtitle, ''), new.content,
            COALESCE((SELECT group_concat(value, ' ') FROM json_each(new.tags)), ''));
END;

CREATE TRIGGER docs_fts_update AFTER UPDATE ON docs BEGIN
    DELETE FROM docs_fts WHERE doc_id = old.id;
    INSERT INTO docs_fts (doc_id, title, subtitle, content, tags)
    VALUES (new.id, new.title, COALESCE(new.subtitle, ''), new.content,
            COALESCE((SELECT group_concat(value, ' ') FROM json_each(new.tags)), ''));
END;

CREATE TRIGGER docs_fts_delete AFTER DELETE ON docs BEGIN
    DELETE FROM docs_fts WHERE doc_id = old.id;
END;
