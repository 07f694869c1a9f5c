/** Text escaped for XML element content and attribute values. */
export function xmlText(value: string | number): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** `<name>value</name>`, escaped. */
export const element = (name: string, value: string | number): string =>
  `<${name}>${xmlText(value)}</${name}>`;
