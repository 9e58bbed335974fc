-- Compliance (issue #6): sanctions list versions. Every import is a version with its source,
-- the hash of each file, the list's own date and its counts; importing the same files again
-- changes nothing. One version per source is active; a failed import leaves the active one.
CREATE SCHEMA compliance;

CREATE TABLE compliance.list_versions (
    id              UUID PRIMARY KEY,
    -- ofac_sdn, ofac_consolidated, un ...
    source          TEXT NOT NULL CHECK (source ~ '^[a-z0-9_]{1,40}$'),
    -- [{"name": "sdn.csv", "sha256": "...", "bytes": 123}], in a fixed order.
    files           JSONB NOT NULL,
    -- SHA-256 over the files' hashes: what "the same files" means.
    content_hash    TEXT NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    -- The date the publisher gave the list, when known (OFAC's CSVs carry none).
    published_on    DATE,
    entries         INT NOT NULL CHECK (entries >= 0),
    names           INT NOT NULL CHECK (names >= 0),
    addresses       INT NOT NULL CHECK (addresses >= 0),
    imported_by     TEXT NOT NULL,
    imported_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    status          TEXT NOT NULL CHECK (status IN ('active', 'superseded')),
    CONSTRAINT list_versions_once UNIQUE (source, content_hash)
);
CREATE UNIQUE INDEX list_versions_one_active ON compliance.list_versions (source) WHERE status = 'active';

-- The entries of a version, as parsed (name, kind, programs, aliases, countries, dates of birth,
-- digital currency addresses). Rows of a version are never changed.
CREATE TABLE compliance.list_entries (
    version_id  UUID NOT NULL REFERENCES compliance.list_versions (id),
    ent_num     BIGINT NOT NULL,
    entry       JSONB NOT NULL,
    PRIMARY KEY (version_id, ent_num)
);
