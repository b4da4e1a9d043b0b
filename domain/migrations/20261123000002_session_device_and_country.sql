-- What a session's device and country were, so a sign-in from an unfamiliar one can be flagged.
ALTER TABLE sessions
    ADD COLUMN device_key text,   -- "Firefox|Windows 10": browser name and OS, no version
    ADD COLUMN country text,      -- ISO code from the geo-IP database, when known
    ADD COLUMN new_device boolean NOT NULL DEFAULT false;
