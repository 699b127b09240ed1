import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { MediaConfig } from '../../config/media.js';
import { MatrixError } from '../../errors.js';

/**
 * URL previews (`GET /preview_url`, only when `url_preview_enabled`). The address a fetch connects
 * to is checked against `url_preview_ip_range_blacklist` (minus `url_preview_ip_range_whitelist`)
 * in the socket's own DNS look-up, so a name cannot resolve to a public address for a check and a
 * private one for the connection; redirects are followed by hand (at most 5), each checked the
 * same way. Reads at most `max_spider_size` bytes and parses a minimal Open Graph: `og:title`,
 * `og:description`, `og:image` (as the page gives it; Synapse re-hosts images as mxc: URIs).
 */

const blocked = () => new MatrixError(403, 'M_UNKNOWN', 'IP address blocked by IP blacklist entry');
const MAX_REDIRECTS = 5;
const FETCH_TIMEOUT_MS = 10_000;

function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const family = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (!addr || isIP(addr) === 0) continue;
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export class UrlPreviewer {
  private readonly deny: BlockList;
  private readonly allow: BlockList;

  constructor(private readonly config: MediaConfig) {
    this.deny = blockListOf(config.urlPreviewIpRangeBlacklist);
    this.allow = blockListOf(config.urlPreviewIpRangeWhitelist);
  }

  /** True when a fetch may connect to this address. 0.0.0.0 and :: are always refused. */
  allowed(address: string): boolean {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (address === '0.0.0.0' || address === '::') return false;
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.allowed(mapped[1]!);
    if (this.allow.check(address, family)) return true;
    return !this.deny.check(address, family);
  }

  private readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return (callback as (e: Error | null, a: LookupAddress[]) => void)(err, []);
      const ok = addresses.filter((a) => this.allowed(a.address));
      if (ok.length === 0) return (callback as (e: Error | null, a: string, f: number) => void)(blocked(), '', 4);
      if ((options as { all?: boolean }).all) return (callback as (e: Error | null, a: LookupAddress[]) => void)(null, ok);
      return (callback as (e: Error | null, a: string, f: number) => void)(null, ok[0]!.address, ok[0]!.family);
    });
  };

  async preview(rawUrl: string): Promise<Record<string, unknown>> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new MatrixError(400, 'M_UNKNOWN', 'Invalid URL');
    }
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MatrixError(400, 'M_UNKNOWN', 'Invalid URL: only http and https are previewed');
      // A literal address skips DNS: check it here.
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0 && !this.allowed(host)) throw blocked();
      const res = await this.fetch(url);
      if (res.redirect) {
        url = new URL(res.redirect, url);
        continue;
      }
      return res.og ?? {};
    }
    throw new MatrixError(502, 'M_UNKNOWN', 'Too many redirects');
  }

  private fetch(url: URL): Promise<{ redirect?: string; og?: Record<string, unknown> }> {
    const get = url.protocol === 'https:' ? https.get : http.get;
    return new Promise((resolve, reject) => {
      const req = get(url, { lookup: this.lookup, timeout: FETCH_TIMEOUT_MS, headers: { 'user-agent': 'Axon URL previewer', accept: 'text/html' } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          return resolve({ redirect: res.headers.location });
        }
        if (status !== 200) {
          res.resume();
          return reject(new MatrixError(502, 'M_UNKNOWN', `Failed to fetch URL (status ${status})`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.config.maxSpiderSize) {
            req.destroy();
            return reject(new MatrixError(502, 'M_TOO_LARGE', 'Content is too large to preview'));
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ og: parseOpenGraph(Buffer.concat(chunks).toString('utf8'), url) }));
        res.on('error', () => reject(new MatrixError(502, 'M_UNKNOWN', 'Failed to fetch URL')));
      });
      req.on('timeout', () => req.destroy(new MatrixError(504, 'M_UNKNOWN', 'Timed out fetching URL')));
      req.on('error', (e) => reject(e instanceof MatrixError ? e : new MatrixError(502, 'M_UNKNOWN', 'Failed to fetch URL')));
    });
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };
const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|apos|#39);/g, (_m, e: string) => ENTITIES[e]!).trim();

/** `og:title`, `og:description` and `og:image` from meta tags, with `<title>` and `description` as fall-backs. */
export function parseOpenGraph(html: string, base: URL): Record<string, unknown> {
  const og: Record<string, unknown> = {};
  for (const tag of html.match(/<meta\b[^>]*>/gi) ?? []) {
    const attr = (name: string) => new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
    const key = attr('property') ?? attr('name');
    const content = attr('content');
    if (!key || !content) continue;
    const k = (key[2] ?? key[3] ?? '').toLowerCase();
    const v = decode(content[2] ?? content[3] ?? '');
    if ((k === 'og:title' || k === 'og:description' || k === 'og:image') && og[k] === undefined) og[k] = v;
    if (k === 'description' && og['og:description'] === undefined) og['og:description'] = v;
  }
  if (og['og:title'] === undefined) {
    const t = /<title[^>]*>([^<]*)<\/title>/i.exec(html);
    if (t) og['og:title'] = decode(t[1]!);
  }
  if (typeof og['og:image'] === 'string') {
    try {
      og['og:image'] = new URL(og['og:image'], base).toString();
    } catch {
      delete og['og:image'];
    }
  }
  return og;
}
