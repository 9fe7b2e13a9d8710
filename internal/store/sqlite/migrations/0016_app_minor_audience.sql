-- An app declares that its users are under 14 (MINOR-1; issue 5, item
-- 5): every user is then a minor, whose consent needs a guardian
-- reference, with every optional switch off.
ALTER TABLE apps ADD COLUMN minor_audience INTEGER NOT NULL DEFAULT 0 CHECK (minor_audience IN (0, 1));
