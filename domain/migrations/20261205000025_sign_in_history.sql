-- The sign-ins that make a network or country familiar (`events::insert_sign_in` and the
-- one-statement passkey sign-in both read this): every `signed_in` event except those of sessions
-- a report ended ("This wasn't me", "No, secure my account": `revoked_reason = 'reported_not_me'`),
-- since whoever signed in there may come back from the same place. A plain view: Postgres folds it
-- into each query, so `security_events_sign_ins_idx` and `security_events_sign_in_countries_idx`
-- still answer them.
CREATE VIEW sign_in_history AS
    SELECT e.user_id, e.network, e.country, e.created_at
    FROM security_events e
    WHERE e.kind = 'signed_in'
      AND NOT EXISTS (SELECT 1 FROM sessions r WHERE r.id = e.session_id AND r.revoked_reason = 'reported_not_me');
