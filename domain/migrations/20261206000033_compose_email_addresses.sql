-- Addresses are compared in Unicode's composed form (NFC) since `normalize_email` composes them:
-- "zoë" typed composed (one character) and decomposed ("e" and a combining diaeresis) look and
-- are mailed alike, but were two addresses here. The stored look-up keys are composed the same
-- way, so an account made with a decomposed address is still found by the address its owner types.
--
-- Only where the database can normalise (a UTF8 database; `normalize` refuses otherwise), and
-- never onto another account's key: two accounts whose addresses differ only so keep their keys
-- (each is still found by the form it was made with, until its owner changes it), rather than the
-- migration failing on `users_email_normalized_key`.
DO $$
BEGIN
    IF current_setting('server_encoding') = 'UTF8' THEN
        UPDATE users u SET email_normalized = normalize(u.email_normalized, NFC)
         WHERE u.email_normalized IS DISTINCT FROM normalize(u.email_normalized, NFC)
           AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email_normalized = normalize(u.email_normalized, NFC))
           -- (of two decomposed spellings of one address, the older account takes the key)
           AND u.id = (SELECT d.id FROM users d
                        WHERE normalize(d.email_normalized, NFC) = normalize(u.email_normalized, NFC)
                        ORDER BY d.created_at, d.id LIMIT 1);
        UPDATE sign_up_requests SET email_normalized = normalize(email_normalized, NFC)
         WHERE email_normalized IS DISTINCT FROM normalize(email_normalized, NFC);
    END IF;
END
$$;
