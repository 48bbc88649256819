-- The Merkle tree's stored hashes (Go tlog's layout): for each leaf, its hash at level 0 and
-- the hash of every complete subtree it finishes, about two immutable hashes an event, written
-- in the same transaction as the event.
CREATE TABLE tree_hashes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
