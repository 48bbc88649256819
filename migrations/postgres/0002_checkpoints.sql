-- Signed checkpoints of the log's Merkle tree (C2SP tlog-checkpoint as signed notes), all kept.
CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
