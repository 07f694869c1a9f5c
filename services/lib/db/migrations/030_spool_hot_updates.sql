-- Spool rows change state a few times in their short life (pending -> local -> delivered, routed,
-- completed). Make those changes HOT updates (new row version on the same page, no index
-- insertions): nothing reads recipients by state without their spool id, so the index on state
-- only made every change insert index entries; and pages keep room for the new versions.
DROP INDEX IF EXISTS spool_recipients_open;
ALTER TABLE spool_recipients SET (fillfactor = 70);
ALTER TABLE spool_messages SET (fillfactor = 80);
