-- Sign-in looks at the account's earlier sessions (ended ones too) to flag a new device or
-- country; without these it read every session row. (user_id, device_key) also serves user_id alone.
CREATE INDEX sessions_user_device_idx ON sessions (user_id, device_key);
CREATE INDEX sessions_user_country_idx ON sessions (user_id, country) WHERE country IS NOT NULL;

-- device_key is now "browser|OS family" ("Firefox|Windows"): an OS update is not a new device.
UPDATE sessions
SET device_key = split_part(device_key, '|', 1) || '|' || split_part(split_part(device_key, '|', 2), ' ', 1)
WHERE device_key LIKE '%|% %';
