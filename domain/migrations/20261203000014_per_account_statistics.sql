-- What the planner assumes about "one account's rows" in the two tables every sign-in reads.
--
-- Postgres plans a statement that a connection runs again and again once for all parameters (a
-- generic plan, after five runs), estimating an account's share of a table as 1 / (number of
-- accounts seen in the table's sample). When a few accounts own most rows (a script signing in all
-- day, the first weeks of a site, the bench's eight accounts), that estimate is thousands of rows,
-- and "does this account have a session from this device?" becomes a sequential scan that stops at
-- the first match: cheap for the busy accounts, a read of the whole table for everyone else, on
-- every sign-in (the passkey sign-in bench fell from 575 to 264 sign-ins/s over four runs against
-- one database, 16,703 sequential scans of `sessions` reading 54.7 million rows). Fixed counts
-- (negative: a fraction of the rows) keep the estimate at tens of rows per account, so those
-- questions go through the (user_id, …) indexes whatever the sample holds; ANALYZE keeps them.
ALTER TABLE sessions ALTER COLUMN user_id SET (n_distinct = -0.05);          -- ~20 sessions per account
ALTER TABLE security_events ALTER COLUMN user_id SET (n_distinct = -0.02);   -- ~50 events per account
