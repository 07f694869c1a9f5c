import addressparser from 'nodemailer/lib/addressparser';

/** The addresses in a From/Sender-style header value (groups flattened), lower-cased. */
export function headerAddresses(value: string): string[] {
  const out: string[] = [];
  const walk = (entries: Array<{ address?: string; group?: unknown[] }>) => {
    for (const e of entries) {
      if (e.group) walk(e.group as Array<{ address?: string; group?: unknown[] }>);
      else if (e.address) out.push(e.address.toLowerCase());
    }
  };
  walk(addressparser(value.slice(0, 16_384)) as Array<{ address?: string; group?: unknown[] }>);
  return out;
}
