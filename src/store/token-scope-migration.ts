/**
 * Migration 10 (both dialects): a token may be narrowed to one scope. A
 * `metrics` token is an admin's token that may only scrape GET /metrics.
 */
export const TOKEN_SCOPE_MIGRATION = {
  id: 10,
  name: 'token scopes',
  sql: `
-- NULL: the token holds its owner's rights; 'metrics': it may only read /metrics.
ALTER TABLE tokens ADD COLUMN scope TEXT CHECK (scope IS NULL OR scope = 'metrics');
`,
} as const;
