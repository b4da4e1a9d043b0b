-- Anonymous passkey sign-ins are capped per client network and in total, so a flood of
-- passkey/begin cannot grow webauthn_ceremonies without limit. client_network is where a sign-in
-- began: an IPv4 address, an IPv6 /64 ("2001:db8:1:2::/64"), or 'unknown'. Ceremonies owned by a
-- session (registration, re-verification) have none.
ALTER TABLE webauthn_ceremonies ADD COLUMN client_network text;
ALTER TABLE webauthn_ceremonies ADD CONSTRAINT webauthn_ceremonies_client_network
    CHECK (client_network IS NULL OR (kind = 'sign_in' AND char_length(client_network) BETWEEN 1 AND 64));

-- Counting a network's live ceremonies (and forgetting its expired ones) on every begin.
CREATE INDEX webauthn_ceremonies_network_idx ON webauthn_ceremonies (client_network, expires_at)
    WHERE client_network IS NOT NULL;
