-- A third kind of throttle path per account: the proven path (device = 'proven'), shared by every
-- browser that proved more than the account's address without fully signing in: it chose the
-- password of an account with an authenticator app through an emailed reset link, or it is
-- signing in with the account's Google or GitHub identity. Strangers who know only the address
-- count on the untrusted path (device = '') and cannot lock this one, so the owner on a new device
-- still reaches the code step; someone holding the mailbox or the identity gets one path's budget
-- of code guesses on it, however many resets or provider sign-ins they make.
ALTER TABLE sign_in_throttles DROP CONSTRAINT sign_in_throttles_device_length;
ALTER TABLE sign_in_throttles ADD CONSTRAINT sign_in_throttles_device_kind
    CHECK (octet_length(device) IN (0, 16) OR device = '\x70726f76656e'::bytea);
