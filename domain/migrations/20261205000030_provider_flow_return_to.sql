-- Where a "Continue with Google / GitHub" sign-in goes once it is done: the page the sign-in page
-- was asked to return to (its `return_to`), as a password or passkey sign-in does. Only a path on
-- this site (the app checks it with `nav::safe_return_to` before storing it and again before
-- redirecting), and only for a sign-in: connect and re-verify always go back to Security & Access.
ALTER TABLE provider_flows ADD COLUMN return_to text;
ALTER TABLE provider_flows ADD CONSTRAINT provider_flows_return_to_sign_in_path CHECK (
    return_to IS NULL
    OR (intent = 'sign_in' AND left(return_to, 1) = '/' AND left(return_to, 2) <> '//' AND octet_length(return_to) <= 2048)
);
