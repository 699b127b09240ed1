/**
 * Response headers of media downloads and thumbnails, as Synapse sends them: content served
 * `inline` only for types a browser cannot turn into script (Synapse's INLINE_CONTENT_TYPES),
 * `attachment` otherwise; a sandboxing Content-Security-Policy; cross-origin embedding allowed.
 */

/** Types served `inline`; anything else is an `attachment` (Synapse's INLINE_CONTENT_TYPES). */
export const INLINE_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

export const MEDIA_CSP = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';";

/** The headers every media answer carries, whatever its content. */
export const MEDIA_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': MEDIA_CSP,
  'x-content-security-policy': MEDIA_CSP,
  'cross-origin-resource-policy': 'cross-origin',
  'x-robots-tag': 'noindex, nofollow, noarchive, noimageindex',
  // Media never changes under its ID: clients and proxies may keep it a day (Synapse's value).
  'cache-control': 'public,max-age=86400,s-maxage=86400',
};

/** The type without parameters, lower-cased: `Text/HTML; charset=x` → `text/html`. */
export function essence(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** The Content-Type to send: text types get `charset=UTF-8` when they name none (as Synapse). */
export function responseContentType(mediaType: string | null): string {
  const t = mediaType && mediaType.trim() !== '' ? mediaType.trim() : 'application/octet-stream';
  if (essence(t).startsWith('text/') && !/;\s*charset=/i.test(t)) return `${t}; charset=UTF-8`;
  return t;
}

const TOKEN_SEPARATORS = new Set('()<>@,;:\\"/[]?={}');

/** True when a file name can go in `filename=` unquoted: printable ASCII, no separators (RFC 2616 token). */
function isToken(name: string): boolean {
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c <= 32 || c >= 127 || TOKEN_SEPARATORS.has(ch)) return false;
  }
  return name.length > 0;
}

/** RFC 5987 `value-chars`: everything but unreserved characters percent-encoded as UTF-8. */
function rfc5987(name: string): string {
  return encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `inline` or `attachment` by type, with the file name as a token (`filename=a.png`) when it is
 * one, and as RFC 6266/5987 `filename*=utf-8''…` otherwise (as Synapse encodes it). The encoded
 * form cannot carry a quote, CR or LF, so no name can split or inject a header.
 */
export function contentDisposition(mediaType: string | null, fileName: string | null): string {
  const disposition = mediaType && INLINE_CONTENT_TYPES.has(essence(mediaType)) ? 'inline' : 'attachment';
  if (!fileName) return disposition;
  return isToken(fileName) ? `${disposition}; filename=${fileName}` : `${disposition}; filename*=utf-8''${rfc5987(fileName)}`;
}
