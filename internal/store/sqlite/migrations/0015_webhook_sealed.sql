-- Callback bodies hold user ids and, for after-send callbacks, message
-- content (issue 5, item 2). From here on a body is sealed with the
-- keystore's current epoch key (body_epoch names it; '' marks a body
-- written before this migration, in clear), and cleared when the row is
-- delivered or fails: a finished row keeps only its delivery record.
-- A backup's pending bodies are unreadable once their epoch is destroyed
-- (the keystore window), like every other personal field.
ALTER TABLE webhook_outbox ADD COLUMN body_epoch TEXT NOT NULL DEFAULT '';
UPDATE webhook_outbox SET body = X'' WHERE state <> 'pending';
