-- Each instance keeps the passkeys it signed in with recently in memory (domain::auth::passkeys::
-- known), so a passkey sign-in need not read the passkey from Postgres before checking its
-- signature: one round trip fewer. What it remembers may be out of date (another instance counted
-- a use, the passkey was renamed); the statement that records a sign-in therefore names the
-- revision it verified against and records nothing unless that is still the passkey's revision,
-- under the passkey's lock. Every change to a passkey's row makes a new revision, whoever makes
-- it: the trigger, not each UPDATE, counts.
ALTER TABLE passkeys ADD COLUMN revision bigint NOT NULL DEFAULT 0;

CREATE FUNCTION gatehouse_passkeys_revise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER passkeys_revise BEFORE UPDATE ON passkeys FOR EACH ROW EXECUTE FUNCTION gatehouse_passkeys_revise();
