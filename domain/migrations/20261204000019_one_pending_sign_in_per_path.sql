-- One pending sign-in per account and throttle path. A right password (or provider) followed by no
-- code yet is forgiven on the path's throttle, and each pending sign-in allows 5 codes: someone
-- holding the password could open many pending sign-ins first and then try 5 codes on each, past
-- every limit the throttle sets. Now a new pending sign-in on a path replaces the one before it
-- (ON CONFLICT on this constraint, which sees rows other transactions committed, so two at once
-- cannot both stay), and each 5 codes need a password the throttle let through. The path is the
-- throttle's `device` key: empty for the shared untrusted path, a device cookie's nonce otherwise,
-- so no one can end the pending sign-in of a browser that holds the account's device cookie.
--
-- Pending sign-ins live 5 minutes; those made before this migration count as untrusted, and only
-- each account's newest is kept.
ALTER TABLE pending_sign_ins ADD COLUMN throttle_path bytea NOT NULL DEFAULT '';

DELETE FROM pending_sign_ins p
    USING pending_sign_ins q
    WHERE p.user_id = q.user_id AND (p.created_at, p.id) < (q.created_at, q.id);

ALTER TABLE pending_sign_ins ADD CONSTRAINT pending_sign_ins_one_per_path UNIQUE (user_id, throttle_path);

-- (the constraint's index starts with user_id: it serves the foreign key's lookups too)
DROP INDEX pending_sign_ins_user_idx;
