import type { IncomingMessage, ServerResponse } from 'node:http';
import { domainOfAddress } from '@hermod/address';
import type { ClientSettings } from '@hermod/domain-config';
import {
  AUTODISCOVER_MAX_REQUEST_BYTES,
  AUTODISCOVER_PATH,
  AutodiscoverRequestError,
  OUTLOOK_RESPONSE_SCHEMA,
  parseAutodiscoverRequest,
  renderAutodiscoverResponse,
} from './autodiscover.js';
import { MOBILECONFIG_CONTENT_TYPE, MOBILECONFIG_PATH, renderMobileconfig } from './mobileconfig.js';
import { renderThunderbirdConfig } from './thunderbird.js';

export const THUNDERBIRD_PATHS = ['/mail/config-v1.1.xml', '/.well-known/autoconfig/mail/config-v1.1.xml'];
/** Autodiscover clients also ask with the capitalised path Exchange uses. */
const AUTODISCOVER_PATHS = [AUTODISCOVER_PATH, '/Autodiscover/Autodiscover.xml'];

/** An address we answer for: one @, a plain local part, at most 320 characters. */
const addressPattern = /^[^@\s<>&"'\\/]{1,64}@[^@\s]{1,253}$/;

/**
 * The served domain a request's Host names: `autoconfig.<domain>`, `autodiscover.<domain>` or
 * `<domain>` itself (port, case and a trailing dot ignored).
 */
export function domainOfHost(
  hostHeader: string | undefined,
  isServed: (domain: string) => boolean,
): string | undefined {
  if (!hostHeader) return undefined;
  const host = hostHeader.trim().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  for (const prefix of ['autoconfig.', 'autodiscover.']) {
    if (host.startsWith(prefix) && isServed(host.slice(prefix.length))) return host.slice(prefix.length);
  }
  return isServed(host) ? host : undefined;
}

export type ClientConfigHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * Client autoconfiguration: Thunderbird autoconfig, Microsoft Autodiscover (POX) and an Apple
 * configuration profile for the domains we serve. Answers only from the domain's settings, never
 * from the accounts store: an unknown domain is 404, any address of a served domain gets the same
 * settings whether or not it exists. Returns false for paths that are not autoconfiguration.
 */
export function clientConfigHandler(options: {
  /** The domain's client settings; undefined when we do not serve the domain. */
  settingsFor: (domain: string) => ClientSettings | undefined;
}): ClientConfigHandler {
  const isServed = (domain: string) => options.settingsFor(domain) !== undefined;
  const send = (
    res: ServerResponse,
    status: number,
    contentType: string,
    body: string,
    head = false,
  ): true => {
    res
      .writeHead(status, {
        'content-type': contentType,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      })
      .end(head ? undefined : body);
    return true;
  };
  const notFound = (res: ServerResponse) => send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  const badRequest = (res: ServerResponse, why: string) =>
    send(res, 400, 'text/plain; charset=utf-8', `bad request: ${why}\n`);
  /** The address's domain when the address is well formed and the domain is served. */
  const servedAddress = (address: string | null | undefined) => {
    if (!address || address.length > 320 || !addressPattern.test(address)) return undefined;
    const domain = domainOfAddress(address);
    const settings = options.settingsFor(domain);
    return settings ? { address, domain, settings } : undefined;
  };

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const head = req.method === 'HEAD';
    if (THUNDERBIRD_PATHS.includes(path)) {
      if (req.method !== 'GET' && !head) return methodNotAllowed(res, 'GET, HEAD');
      const domain = domainOfHost(req.headers.host, isServed);
      const settings = domain && options.settingsFor(domain);
      if (!domain || !settings) return notFound(res);
      return send(
        res,
        200,
        'application/xml; charset=utf-8',
        renderThunderbirdConfig(domain, settings),
        head,
      );
    }
    if (path === MOBILECONFIG_PATH) {
      if (req.method !== 'GET' && !head) return methodNotAllowed(res, 'GET, HEAD');
      const address = url.searchParams.get('emailaddress');
      if (!address) return badRequest(res, 'emailaddress is required');
      const served = servedAddress(address);
      const body = served && renderMobileconfig(served.address, served.domain, served.settings);
      if (!body) return notFound(res);
      res.setHeader(
        'content-disposition',
        `attachment; filename="${served.domain.replace(/[^a-z0-9.-]/g, '')}.mobileconfig"`,
      );
      return send(res, 200, MOBILECONFIG_CONTENT_TYPE, body, head);
    }
    if (AUTODISCOVER_PATHS.includes(path)) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      const body = await readBody(req, AUTODISCOVER_MAX_REQUEST_BYTES);
      if (body === undefined) {
        return send(res, 413, 'text/plain; charset=utf-8', 'request too large\n');
      }
      let request: ReturnType<typeof parseAutodiscoverRequest>;
      try {
        request = parseAutodiscoverRequest(body);
      } catch (error) {
        if (error instanceof AutodiscoverRequestError) return badRequest(res, error.message);
        throw error;
      }
      const schema = request.acceptableResponseSchema;
      const served = servedAddress(request.emailAddress);
      if (!served || (schema !== undefined && schema !== OUTLOOK_RESPONSE_SCHEMA)) return notFound(res);
      return send(
        res,
        200,
        'application/xml; charset=utf-8',
        renderAutodiscoverResponse(served.address, served.settings),
      );
    }
    return false;
  };
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.writeHead(405, { allow }).end();
  return true;
}

/** The request body as text, or undefined (and the rest discarded) once it passes limit bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
