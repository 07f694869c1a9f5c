/**
 * How mda's PostgreSQL sessions plan. A batch runs a handful of statements whose planning cost
 * PostgreSQL more than running them (the batch-facts read with the filters' reads, the deliveries
 * write, and the spool and mailbox functions they call: about 1.4 ms of planning per batch), so
 * every session plans each named statement once (`force_generic_plan`, also for the statements
 * inside the PL/pgSQL functions it calls) and keeps the plan.
 *
 * A cached plan made while a table is small (an idle spool, a new installation) would scan the whole
 * table, and keep scanning it as the spool grows until the next ANALYZE of that table replans it.
 * With `enable_seqscan` off the planner takes an index whenever the statement has one it can use,
 * whatever the table's size at planning time: every statement of a batch looks its rows up by key
 * (test/integration/mda/cached-plans.test.ts checks each plan the batch's session cached).
 * A statement no index serves still scans: the setting only ranks the scan last.
 */
export const mdaSessionSettings: Readonly<Record<string, string>> = {
  plan_cache_mode: 'force_generic_plan',
  enable_seqscan: 'off',
};
