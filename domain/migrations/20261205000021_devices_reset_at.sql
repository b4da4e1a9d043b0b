-- Forgetting which browsers an account trusted, for its sign-in alerts.
--
-- A browser that fully signed in carries a device cookie naming the account (device_cookies.rs),
-- and a sign-in from it never raises an unfamiliar-sign-in alert. After "This wasn't me", "No,
-- secure my account", a password reset or change, or Sign out everywhere, an intruder's browser
-- must not keep that: its entries were issued before this time, and a sign-in from it is judged by
-- its network and country alone (and alerts) until it signs in fully again. NULL: never reset.
-- (The throttle's separate path for a trusted browser is kept: forgetting it would let anyone who
-- knows the address lock the owner's own browsers out after a reset.)
ALTER TABLE users ADD COLUMN devices_reset_at timestamptz;
