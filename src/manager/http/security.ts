/**
 * What makes the manager safe to expose: security headers on every answer, optional CORS,
 * API keys (Bearer, compared in constant time, known in logs only by their name), and an
 * optional rate limit per key or client address.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import cors from '@koa/cors';
import type { Context, Middleware, Next } from 'koa';
import type * as RateLimiterFlexible from 'rate-limiter-flexible';
import { AppError, ErrorCode } from '../../errors.js';

export interface SecurityOptions {
  apiKeys: ReadonlyArray<{ name: string; key: string }>;
  /** With keys set: GETs of jobs need a key too. */
  authReads: boolean;
  /** With keys set: /healthz, /readyz and /metrics need a key too. */
  authOps: boolean;
  /** Requests per minute per key (or client address); 0: no limit. */
  rateLimitPerMinute: number;
  /** Origins allowed to call from a browser; empty: no CORS headers at all. */
  corsOrigins: readonly string[];
}

export const NO_SECURITY: SecurityOptions = Object.freeze({
  apiKeys: [],
  authReads: true,
  authOps: false,
  rateLimitPerMinute: 0,
  corsOrigins: [],
});

/** The API's policy: it only ever answers JSON, so nothing it sends may load or run anything. */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/**
 * The dashboard's policy (/ui/, http/ui.ts): its own scripts, styles, images and API calls,
 * nothing else. No inline script or style element, no eval, no other origin, no framing, no
 * form posts (its forms are handled in script). Styles set from script through the CSSOM (as
 * uPlot sizes its elements) are not style attributes in the markup, so `style-src 'self'` holds.
 */
export const DASHBOARD_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** No sniffing, no framing, no referrer, no active content: this API only ever answers JSON. */
export function securityHeaders(): Middleware {
  return async (ctx: Context, next: Next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Content-Security-Policy', API_CONTENT_SECURITY_POLICY);
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    await next();
  };
}

export function corsPolicy(origins: readonly string[]): Middleware | undefined {
  if (origins.length === 0) return undefined;
  const any = origins.includes('*');
  return cors({
    origin: (ctx: Context) => {
      const origin = ctx.get('Origin');
      if (any) return '*';
      return origins.includes(origin) ? origin : '';
    },
    allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
    exposeHeaders: ['Location', 'Retry-After', 'Idempotent-Replayed'],
    maxAge: 600,
  });
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Each key list's digests, made once: a digest is about 1.8 µs, and a request compares every key. */
const keyDigests = new WeakMap<ReadonlyArray<{ key: string }>, Buffer[]>();

/** The name of the key that matches `candidate`, checking every key in constant time. */
export function matchApiKey(
  keys: ReadonlyArray<{ name: string; key: string }>,
  candidate: string,
): string | undefined {
  let digests = keyDigests.get(keys);
  if (digests === undefined) {
    digests = keys.map(({ key }) => digest(key));
    keyDigests.set(keys, digests);
  }
  const offered = digest(candidate);
  let match: string | undefined;
  keys.forEach(({ name }, i) => {
    if (timingSafeEqual(offered, digests[i] as Buffer) && match === undefined) match = name;
  });
  return match;
}

function needsKey(ctx: Context, options: SecurityOptions, isOpsRoute: (ctx: Context) => boolean): boolean {
  if (options.apiKeys.length === 0 || ctx.method === 'OPTIONS') return false;
  if (isOpsRoute(ctx)) return options.authOps;
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return options.authReads;
  return true;
}

const unauthorized = (message: string) =>
  new AppError(ErrorCode.UNAUTHORIZED, message, {
    headers: { 'WWW-Authenticate': 'Bearer realm="distributed-workers"' },
  });

/**
 * Sets ctx.state.apiKey (the key's name) when a valid key was offered. `isOpsRoute` says
 * whether the route that will answer is /healthz, /readyz or /metrics, however the path is
 * spelled; it must judge the request as the router will (see answeringRoute).
 */
export function authenticate(options: SecurityOptions, isOpsRoute: (ctx: Context) => boolean): Middleware {
  return async (ctx: Context, next: Next) => {
    const header = ctx.get('Authorization');
    if (header !== '' && options.apiKeys.length > 0) {
      // The scheme is case-insensitive (RFC 9110 §11.1); the single space and the key are not.
      const match = /^([A-Za-z]+) ([\x21-\x7e]{1,256})$/.exec(header);
      const key = match?.[1]?.toLowerCase() === 'bearer' ? match[2] : undefined;
      const name = key === undefined ? undefined : matchApiKey(options.apiKeys, key);
      if (name === undefined) throw unauthorized('the API key is not valid');
      ctx.state.apiKey = name;
    } else if (needsKey(ctx, options, isOpsRoute)) {
      throw unauthorized('send an API key: Authorization: Bearer <key>');
    }
    await next();
  };
}

/** Fixed one-minute windows per key name, or per client address without a key. */
export function rateLimit(perMinute: number): Middleware | undefined {
  if (perMinute <= 0) return undefined;
  // Loaded only when a limit is set: a manager without one keeps about 2.6 MB less resident
  // (measured alone).
  const { RateLimiterMemory, RateLimiterRes } = createRequire(import.meta.url)(
    'rate-limiter-flexible',
  ) as typeof RateLimiterFlexible;
  const limiter = new RateLimiterMemory({ points: perMinute, duration: 60 });
  return async (ctx: Context, next: Next) => {
    const who = typeof ctx.state.apiKey === 'string' ? `key:${ctx.state.apiKey}` : `ip:${ctx.ip}`;
    try {
      await limiter.consume(who);
    } catch (rejection: unknown) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError(
        ErrorCode.RATE_LIMITED,
        `more than ${perMinute} requests a minute; retry in ${retryAfter} s`,
        {
          headers: { 'Retry-After': String(retryAfter) },
        },
      );
    }
    await next();
  };
}
