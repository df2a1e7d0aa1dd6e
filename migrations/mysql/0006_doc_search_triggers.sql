-- SQLite's search index gains triggers in this step; MariaDB's FULLTEXT index already follows
-- the docs table, so there is nothing to do here (the numbering stays the same on both).
DO 0;
