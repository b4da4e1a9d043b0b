-- Every change that can end a session, or change what a request learns from it, is announced on
-- the channel `gatehouse_sessions` (at commit, so only changes that happened are announced): the
-- payload is the account's id, or '*' for "every account" (an organisation's plan changed). Each
-- server instance keeps the sessions it recently checked in memory and forgets an account's on its
-- id (domain::auth::session_cache); an instance that is not listening does not keep any.
--
-- Not announced: a session's `last_seen_at` moving on (activity), which never ends a session
-- early (a cached copy is older, so it can only look idle sooner, and is then read again).

CREATE FUNCTION gatehouse_sessions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    account uuid;
BEGIN
    IF TG_TABLE_NAME = 'organizations' OR TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('gatehouse_sessions', '*');
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN
        account := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    ELSE
        account := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
    END IF;
    PERFORM pg_notify('gatehouse_sessions', account::text);
    -- a row moved to another account (never done, but then both are told); nested, because
    -- PL/pgSQL does not stop at the first false condition and `users` has no user_id
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME <> 'users' THEN
        IF OLD.user_id IS DISTINCT FROM NEW.user_id THEN
            PERFORM pg_notify('gatehouse_sessions', OLD.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

-- ended (revoked), its token rotated, re-verified, or removed
CREATE TRIGGER sessions_announce_change
    AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
          OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
          OR OLD.verified_at IS DISTINCT FROM NEW.verified_at
          OR OLD.auth_method IS DISTINCT FROM NEW.auth_method
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.user_id IS DISTINCT FROM NEW.user_id)
    EXECUTE FUNCTION gatehouse_sessions_notify();
CREATE TRIGGER sessions_announce_removal
    AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION gatehouse_sessions_notify();

-- the account's address, name or organisation (its plan) changed, or the account was deleted
CREATE TRIGGER users_announce_change
    AFTER UPDATE ON users FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email
          OR OLD.display_name IS DISTINCT FROM NEW.display_name
          OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION gatehouse_sessions_notify();
CREATE TRIGGER users_announce_removal
    AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION gatehouse_sessions_notify();

-- an authenticator app added or removed (whether the account has a second factor; a code's use
-- updates the row and changes nothing a request reads)
CREATE TRIGGER totp_credentials_announce_change
    AFTER INSERT OR DELETE ON totp_credentials FOR EACH ROW EXECUTE FUNCTION gatehouse_sessions_notify();

-- a plan changed (session lifetimes, Enterprise's second-factor rule) for every member at once
CREATE TRIGGER organizations_announce_change
    AFTER UPDATE OR DELETE ON organizations FOR EACH ROW EXECUTE FUNCTION gatehouse_sessions_notify();

-- emptied wholesale (never by the application): every account
CREATE TRIGGER sessions_announce_truncate
    AFTER TRUNCATE ON sessions FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_sessions_notify();
CREATE TRIGGER users_announce_truncate
    AFTER TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_sessions_notify();
CREATE TRIGGER totp_credentials_announce_truncate
    AFTER TRUNCATE ON totp_credentials FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_sessions_notify();
