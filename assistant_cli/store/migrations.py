"""Schema migrations, in order; the database's user_version is how many have run.

Append new migrations; never edit one that has shipped. Plain, portable SQL so that a
PostgreSQL backend can follow.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the durable inbox, replies, conversation history, secret metadata, key-value state.
    """
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    external_id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    sender_name TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'text',
    text TEXT NOT NULL DEFAULT '',
    meta TEXT NOT NULL DEFAULT '{}',
    received_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_at REAL,
    finished_at REAL,
    outcome TEXT,
    error TEXT,
    UNIQUE (platform, external_id)
);
CREATE INDEX inbox_status ON inbox (status, conversation, id);
CREATE TABLE replies (
    inbox_id INTEGER PRIMARY KEY REFERENCES inbox (id),
    text TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    inbox_id INTEGER,
    created_at REAL NOT NULL
);
CREATE INDEX history_session ON history (session, id);
CREATE TABLE secrets_meta (
    name TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    created_at REAL NOT NULL,
    rotated_at REAL NOT NULL
);
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
""",
    # 2: pairing requests, approved senders, and the hash-chained audit log.
    """
CREATE TABLE pairing_requests (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    code_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    decided_at REAL,
    decided_by TEXT
);
CREATE INDEX pairing_pending ON pairing_requests (platform, status, user_id);
CREATE TABLE senders (
    platform TEXT NOT NULL,
    user_id TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    approved_at REAL NOT NULL,
    approved_by TEXT NOT NULL,
    via TEXT NOT NULL,
    notified INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, user_id)
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    prev_mac TEXT NOT NULL,
    mac TEXT NOT NULL
)
""",
    # 3: delivery statuses that platforms report for our outbound messages (WhatsApp).
    """
CREATE TABLE delivery_status (
    platform TEXT NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    status_at REAL NOT NULL,
    error_code INTEGER,
    error_title TEXT,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (platform, message_id, status)
);
CREATE INDEX delivery_status_recent ON delivery_status (platform, status, recorded_at)
""",
    # 4: tokens used per UTC day, provider and sender; each provider's latest health.
    """
CREATE TABLE usage_daily (
    day TEXT NOT NULL,
    provider TEXT NOT NULL,
    sender TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    estimated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, provider, sender)
);
CREATE INDEX usage_daily_sender ON usage_daily (sender, day);
CREATE TABLE provider_health (
    provider TEXT PRIMARY KEY,
    checked_at REAL NOT NULL,
    ok INTEGER NOT NULL,
    kind TEXT,
    status INTEGER,
    latency_ms REAL,
    detail TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL
)
""",
    # 5: retry schedule of unsent replies: a row waits until not_before; give-up is timed
    # from the first failure; `notice` is 'pending' until a given-up sender was told.
    # inbox_queue lets claim() walk queued rows in id order and stop at the first match.
    """
ALTER TABLE inbox ADD COLUMN not_before REAL NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN first_failed_at REAL;
ALTER TABLE inbox ADD COLUMN notice TEXT;
CREATE INDEX inbox_notice ON inbox (notice, platform);
CREATE INDEX inbox_queue ON inbox (status, id)
""",
    # 6: tool calls per inbox row (resume after a crash), remembered approvals, memory.
    """
CREATE TABLE tool_calls (
    id INTEGER PRIMARY KEY,
    inbox_id INTEGER NOT NULL REFERENCES inbox (id),
    step INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    assistant_text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    finished_at REAL,
    duration_ms REAL,
    UNIQUE (inbox_id, step, seq)
);
CREATE TABLE tool_approvals (
    id INTEGER PRIMARY KEY,
    tool TEXT NOT NULL,
    platform TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    chat_id TEXT,
    scope TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE INDEX tool_approvals_lookup ON tool_approvals (tool, platform, sender_id);
CREATE TABLE tool_memory (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX tool_memory_sender ON tool_memory (sender, id)
""",
    # 7: leases of claimed inbox rows when several `serve` replicas share a PostgreSQL
    # database (store/pg_inbox.py): which replica holds a row, and its last heartbeat.
    """
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
ALTER TABLE inbox ADD COLUMN heartbeat_at REAL
""",
]
