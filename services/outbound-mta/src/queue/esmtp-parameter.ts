/**
 * An ESMTP parameter of MAIL or RCPT as the spool keeps it (smtp-server's keywords, values
 * xtext-decoded), found by its keyword in any case; undefined when absent.
 */
export function esmtpParameter(
  parameters: Record<string, string> | undefined,
  keyword: string,
): string | undefined {
  const wanted = keyword.toUpperCase();
  return Object.entries(parameters ?? {}).find(([k]) => k.toUpperCase() === wanted)?.[1];
}
