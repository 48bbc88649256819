-- When each API token last authenticated a request, for the programme team's list of tokens
-- (`GET /v1/admin/tokens`, `wexqs tokens list`): written at most once a minute a token by each
-- server (RFC 3339, UTC, to the second). Tokens not used since this column was added have none.
ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT;
