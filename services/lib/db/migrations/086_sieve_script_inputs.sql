-- What a compiled Sieve script can read (@hermod/sieve's SCRIPT_INPUTS bits: header 1, whole message 2,
-- envelope 4, mailboxes 8), so that delivery reads for each recipient only what its scripts need (the
-- header section instead of the whole message, no envelope, no mailbox list). The compiler records it
-- at the start of the compiled form ({"format":"hermod-sieve/1","inputs":N,...}); a generated column,
-- so every write of `compiled` keeps it right. NULL (a form compiled before, or not a compiled form):
-- delivery reads everything.
ALTER TABLE sieve_scripts
  ADD COLUMN inputs smallint GENERATED ALWAYS AS
    (substring(compiled FROM '^\{"format":"hermod-sieve/1","inputs":([0-9]{1,4})[,}]')::smallint) STORED;
ALTER TABLE sieve_global_scripts
  ADD COLUMN inputs smallint GENERATED ALWAYS AS
    (substring(compiled FROM '^\{"format":"hermod-sieve/1","inputs":([0-9]{1,4})[,}]')::smallint) STORED;
