-- A "Continue with Google / GitHub" begun on the sign-up page: when it ends badly (cancelled at the
-- provider, refused, expired, an email already in use…) the person is sent back to the page they
-- began on, with its sentence, not to the sign-in page. Only a sign-in flow begins there.
ALTER TABLE provider_flows ADD COLUMN from_sign_up boolean NOT NULL DEFAULT false;
ALTER TABLE provider_flows ADD CONSTRAINT provider_flows_from_sign_up_is_a_sign_in CHECK (NOT from_sign_up OR intent = 'sign_in');
