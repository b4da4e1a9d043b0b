-- A session the owner ended from her list (Revoke: `revoked_reason = 'revoked'`; Revoke all
-- others: 'revoked_all_others') makes nothing familiar either, like one a report ended: whoever
-- held it may come back from the same network or country. Sign out, Sign out everywhere, a
-- password change and expiry are not a judgement of the session and keep its sign-ins.
CREATE OR REPLACE VIEW sign_in_history AS
    SELECT e.user_id, e.network, e.country, e.created_at
    FROM security_events e
    WHERE e.kind = 'signed_in'
      AND NOT EXISTS (
          SELECT 1 FROM sessions r
          WHERE r.id = e.session_id AND r.revoked_reason IN ('reported_not_me', 'revoked', 'revoked_all_others')
      );
