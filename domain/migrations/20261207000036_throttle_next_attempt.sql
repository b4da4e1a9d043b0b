-- When a throttle path allows its next attempt, written once: `claim` counts an attempt only when
-- this is NULL (nothing to wait for at `now`), and a refused browser is told how long to wait from
-- the same expression, so the two can never disagree. NULL when the path allows an attempt now;
-- otherwise the later of its lock's end and its back-off's end (base × 2^(failures − free), at most
-- max_delay_minutes). One expression with no FROM, so the planner inlines it into the statement
-- (GREATEST skips NULLs; an end at exactly `now` allows the attempt, as NULLIF turns it to NULL).
CREATE FUNCTION sign_in_throttle_next_attempt(
    failed_attempts int,
    last_failed_at timestamptz,
    locked_until timestamptz,
    now timestamptz,
    free_attempts int,
    base_delay_seconds double precision,
    max_delay_minutes int
) RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT NULLIF(GREATEST(
        now,
        locked_until,
        CASE WHEN failed_attempts >= free_attempts THEN last_failed_at + LEAST(
            make_interval(secs => base_delay_seconds * power(2, LEAST(failed_attempts - free_attempts, 30))),
            make_interval(mins => max_delay_minutes)) END
    ), now)
$$;
