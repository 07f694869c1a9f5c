/**
 * The rule every aggregate report job follows (DMARC RFC 7489 section 7.2, TLS-RPT RFC 8460):
 * periods aligned to the epoch; a period is reported once it has ended; one report per policy
 * domain and period, delivered to each address the domain publishes now; the period's rows are
 * deleted once every delivery is in hand (in the spool, or posted). A failure before that (DNS,
 * the database) leaves the period for the next pass; a delivery is named by a key, so a pass that
 * is run again never sends a second copy by mail.
 */
export interface ReportPassSpec<Due, Report> {
  /** Ended periods that still hold rows. */
  due(): Promise<Due[]>;
  /** The report of one period and where it goes; undefined: none wanted (no record, no rua). */
  build(due: Due): Promise<{ report: Report; destinations: string[] } | undefined>;
  /** Delivers to one destination: false when the destination was refused (not authorised). */
  deliver(report: Report, destination: string, due: Due): Promise<boolean>;
  /** Drops the period's rows. */
  done(due: Due): Promise<void>;
}

export interface ReportPassResult {
  reports: number;
  sent: number;
  /** Destinations refused (DMARC's external-destination check, an unusable rua). */
  refused: number;
}

/** The start of the period (seconds since the epoch) that `time` falls in. */
export const periodStart = (time: Date, periodSeconds: number): number =>
  Math.floor(time.getTime() / 1000 / periodSeconds) * periodSeconds;

export async function runReportPass<Due, Report>(
  spec: ReportPassSpec<Due, Report>,
): Promise<ReportPassResult> {
  const result: ReportPassResult = { reports: 0, sent: 0, refused: 0 };
  for (const due of await spec.due()) {
    const built = await spec.build(due);
    if (built) {
      result.reports += 1;
      for (const destination of built.destinations) {
        if (await spec.deliver(built.report, destination, due)) result.sent += 1;
        else result.refused += 1;
      }
    }
    await spec.done(due);
  }
  return result;
}
