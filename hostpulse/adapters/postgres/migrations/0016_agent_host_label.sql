-- Remote write: the label that names a series' host, per token. NULL: `host`, else `instance`
-- without its port (what a scrape of node_exporter carries).
ALTER TABLE agents ADD COLUMN host_label text
    CHECK (host_label ~ '^[a-zA-Z_][a-zA-Z0-9_]{0,127}$');
