-- Each instance keeps the passkeys it signed in with recently in memory (domain::auth::passkeys::
-- known), so a passkey sign-in need not read the passkey from Postgres before checking its
-- signature: one round trip fewer. What it remembers may be out of date (another instance counted
-- a use, the passkey was renamed); the statement that records a sign-in therefore names the
-- revision it verified against and records nothing unless that is still the passkey's revision,
-- under the passkey's lock. Every change to what an instance remembers (the credential with its
-- counter and flags, the name, the owner, the credential id) makes a new revision, whoever makes
-- it: the trigger, not each UPDATE, counts. A use that changes only the last-used time and backup
-- column keeps the revision (a synced passkey, whose counter stays 0), so an instance's memory of
-- it stays good however sign-ins are spread over instances.
ALTER TABLE passkeys ADD COLUMN revision bigint NOT NULL DEFAULT 0;

CREATE FUNCTION gatehouse_passkeys_revise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER passkeys_revise BEFORE UPDATE ON passkeys FOR EACH ROW
    WHEN (OLD.credential IS DISTINCT FROM NEW.credential
          OR OLD.name IS DISTINCT FROM NEW.name
          OR OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.credential_id IS DISTINCT FROM NEW.credential_id
          OR OLD.revision IS DISTINCT FROM NEW.revision)
    EXECUTE FUNCTION gatehouse_passkeys_revise();
