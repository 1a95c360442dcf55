/**
 * One delivery attempt: a POST of the event to the callback URL, with a connect timeout and a
 * response timeout, no redirects followed (a 3xx is a failure like any non-2xx), no connection
 * reused, and the response body read up to 64 KiB and discarded. The host is resolved by our
 * own `lookup`, which refuses the attempt when any address it finds is not public (unless
 * private ones are allowed): the address checked is the address connected to, so a name that
 * turns private after the POST was accepted (DNS rebinding) is refused here. An IP literal is
 * never looked up; the URL check judges it instead.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkCallbackUrl, isPublicAddress } from './address-policy.js';

/** What a failed attempt is recorded as when there was no HTTP status. */
export type FailureCode =
  | 'invalid_url'
  | 'private_address'
  | 'dns'
  | 'refused'
  | 'unreachable'
  | 'connect_timeout'
  | 'timeout'
  | 'reset'
  | 'tls'
  | 'error';

export interface AttemptResult {
  /** True for a 2xx answer. */
  delivered: boolean;
  /** The HTTP status, or why there was none. */
  status: number | FailureCode;
  durationMs: number;
}

/** Resolves a host name to its addresses (dns.lookup by default; tests inject their own). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export interface DeliverOptions {
  connectTimeoutMs: number;
  /** From the connection to the last byte of the answer read. */
  responseTimeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: connect to loopback and private addresses too. */
  allowPrivate: boolean;
  maxResponseBytes?: number;
  resolve?: Resolver;
}

export const MAX_RESPONSE_BYTES = 64 * 1024;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/** Our errors, told apart from Node's by their code. */
const PRIVATE = 'DW_PRIVATE_ADDRESS';
const CONNECT_TIMEOUT = 'DW_CONNECT_TIMEOUT';
const RESPONSE_TIMEOUT = 'DW_RESPONSE_TIMEOUT';

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A `lookup` for http.request that resolves with `resolve` and refuses non-public answers. */
export function checkedLookup(resolve: Resolver, allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const family = typeof options.family === 'number' ? options.family : 0;
        const addresses = family === 0 ? found : found.filter((a) => a.family === family);
        const first = addresses[0];
        if (!first) {
          callback(coded('ENOTFOUND', `no address for ${hostname}`), '', 0);
          return;
        }
        if (!allowPrivate && addresses.some((a) => !isPublicAddress(a.address))) {
          callback(coded(PRIVATE, `${hostname} resolves to a non-public address`), '', 0);
          return;
        }
        if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
}

function failureCode(error: unknown): FailureCode {
  const inner = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const code = String((inner as { code?: unknown } | null)?.code ?? '');
  if (code === PRIVATE) return 'private_address';
  if (code === CONNECT_TIMEOUT || code === 'ETIMEDOUT') return 'connect_timeout';
  if (code === RESPONSE_TIMEOUT) return 'timeout';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA' || code === 'EAI_FAIL') return 'dns';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code)) return 'tls';
  return 'error';
}

/** POSTs `body` with `headers` to `url` once; never throws. */
export function deliver(
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  options: DeliverOptions,
): Promise<AttemptResult> {
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  const check = checkCallbackUrl(url, options.allowPrivate);
  if (!check.ok) {
    const status = check.nonPublic ? 'private_address' : 'invalid_url';
    return Promise.resolve({ delivered: false, status, durationMs: took() });
  }
  const target = check.url;
  const maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  return new Promise<AttemptResult>((done) => {
    let status: number | undefined;
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    let req: ClientRequest | undefined;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // Once an answer's status is in, a body cut short changes nothing.
      if (status !== undefined)
        done({ delivered: status >= 200 && status < 300, status, durationMs: took() });
      else done({ delivered: false, status: failureCode(error), durationMs: took() });
      req?.destroy();
    };
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    req = request(target, {
      method: 'POST',
      headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
      agent: false,
      lookup: checkedLookup(options.resolve ?? systemResolver, options.allowPrivate),
    });
    timer = setTimeout(
      () => req?.destroy(coded(CONNECT_TIMEOUT, 'connect timeout')),
      options.connectTimeoutMs,
    );
    req.once('socket', (socket) => {
      const connected = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => req?.destroy(coded(RESPONSE_TIMEOUT, 'response timeout')),
          options.responseTimeoutMs,
        );
      };
      if (socket.connecting) socket.once('connect', connected);
      else connected();
    });
    req.once('response', (res: IncomingMessage) => {
      status = res.statusCode ?? 0;
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxBytes) finish();
      });
      res.once('end', () => finish());
      res.once('close', () => finish());
      res.once('error', (error) => finish(error));
    });
    req.once('error', (error) => finish(error));
    req.once('close', () => finish(coded('ECONNRESET', 'connection closed')));
    req.end(body);
  });
}
