-- Delivery knows a compiled Sieve script by a digest of it: it keeps scripts it has parsed in memory by
-- digest and reads the (large) compiled form of a script only when that digest is new to it. A generated
-- column, so that every write of `compiled` (whatever writes it) gives the new digest.
ALTER TABLE sieve_scripts
  ADD COLUMN compiled_digest text GENERATED ALWAYS AS (md5(compiled)) STORED;
ALTER TABLE sieve_global_scripts
  ADD COLUMN compiled_digest text GENERATED ALWAYS AS (md5(compiled)) STORED;
