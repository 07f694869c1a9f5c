-- Vacuum the mailbox tables as often as their churn needs (bench/imap-queries.ts --soak).
--
-- Every STORE writes a new version of its mailbox_messages row and a new entry in each of its
-- indexes (the modseq it changes is indexed, so no update is HOT), and APPEND + EXPUNGE insert and
-- delete rows. At the default thresholds (vacuum after 20% of the table is dead) a table of ten
-- million messages collects two million dead rows before a vacuum; in the mix bench a 100-message
-- mailbox grew to 43,000 dead rows (1.5 MB heap, 1 MB of indexes) and PostgreSQL's CPU per command
-- from 155 to 270 us before the first autovacuum (110 s). Here: vacuum after 1% (plus 1,000 rows, so that
-- small installations do not vacuum all the time), analyze after 2%, and let autovacuum work five
-- times faster on this table than the default cost limit allows. Inserted-only pages (deliveries)
-- are vacuumed after 5% so the visibility map stays current for index-only scans.
ALTER TABLE mailbox_messages SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_vacuum_cost_limit = 1000
);

-- Every write to a mailbox updates its mailboxes row (modseq, counters). Those updates are HOT and
-- pruned on the page, so few dead rows are ever counted (under 100 in the bench), yet the occasional
-- non-HOT one moves the row to a new page that only a vacuum makes reusable: with the default
-- threshold (50 + 20%) the bench's table never got vacuumed and grew from 32 to 152 kB for five rows.
ALTER TABLE mailboxes SET (
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_threshold = 20
);

-- The expunge log (QRESYNC's VANISHED) only grows: vacuum it for its visibility map after 5% new rows.
ALTER TABLE mailbox_expunges SET (autovacuum_vacuum_insert_scale_factor = 0.05);
