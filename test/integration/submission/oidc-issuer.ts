// A small OpenID Connect issuer on loopback for tests: its own key pairs (RS256 and ES256), the
// discovery document and JWKS over HTTP, and tokens signed on request.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export interface TestIssuer {
  url: string;
  /** JWKS requests served so far. */
  jwksFetches: number;
  /** Signs a token; `key` picks a published key ('rs', 'es') or one the JWKS does not list ('unlisted'). */
  sign(
    claims: JWTPayload,
    options?: { key?: 'rs' | 'es' | 'unlisted'; expiresIn?: string | number },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const keys: Record<
    'rs' | 'es' | 'unlisted',
    { alg: string; kid: string; privateKey: CryptoKey; publicKey: CryptoKey }
  > = {
    rs: { alg: 'RS256', kid: 'rs-1', ...(await generateKeyPair('RS256')) },
    es: { alg: 'ES256', kid: 'es-1', ...(await generateKeyPair('ES256')) },
    unlisted: { alg: 'RS256', kid: 'rs-unlisted', ...(await generateKeyPair('RS256')) },
  };
  const jwks = {
    keys: await Promise.all(
      (['rs', 'es'] as const).map(async (name) => ({
        ...(await exportJWK(keys[name].publicKey)),
        kid: keys[name].kid,
        alg: keys[name].alg,
        use: 'sig',
      })),
    ),
  };
  let url = '';
  const issuer: TestIssuer = {
    url: '',
    jwksFetches: 0,
    async sign(claims, options = {}) {
      const key = keys[options.key ?? 'rs'];
      return new SignJWT(claims)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
        .setIssuedAt()
        .setIssuer((claims.iss as string | undefined) ?? url)
        .setExpirationTime(options.expiresIn ?? '5m')
        .sign(key.privateKey);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    if (request.url === '/.well-known/openid-configuration') {
      response.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
    } else if (request.url === '/jwks') {
      issuer.jwksFetches++;
      response.end(JSON.stringify(jwks));
    } else {
      response.statusCode = 404;
      response.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.url = url;
  return issuer;
}
