-- The connected account an event was about, as its owner knows it at the provider ("@login
-- (address)" at GitHub, the address at Google): Recent security activity and its downloads name
-- it ("Connected GitHub (@octocat)"), so the owner can tell, even after it was disconnected, whose
-- account could sign in to hers. Set on provider_connected and provider_disconnected events; older
-- events have none and keep their words.
ALTER TABLE security_events
    ADD COLUMN identity text,
    ADD CONSTRAINT security_events_identity_length CHECK (char_length(identity) <= 200);
