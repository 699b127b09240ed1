import type Sharp from 'sharp';
import { essence } from './headers.js';

/**
 * Thumbnail geometry and generation. sharp (libvips) decodes and resizes on libuv's thread pool,
 * off the event loop; `ThumbnailQueue` bounds how many images are in flight at once, so a burst of
 * uploads cannot take every thread or hold many decoded images in memory.
 */

/** sharp loads libvips (≈20 MB of native memory): on the first thumbnail, not at start-up. */
let sharpModule: Promise<typeof Sharp> | undefined;
const loadSharp = (): Promise<typeof Sharp> => (sharpModule ??= import('sharp').then((m) => m.default));

export type ThumbnailMethod = 'crop' | 'scale';

export interface ThumbnailInfo {
  width: number;
  height: number;
  type: string;
  method: string;
  length: number;
}

/** Source types Axon thumbnails, and the type of their thumbnails (Synapse's supported formats). */
const THUMBNAIL_TYPE: Readonly<Record<string, 'image/jpeg' | 'image/png'>> = {
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/webp': 'image/jpeg',
  'image/gif': 'image/png',
  'image/png': 'image/png',
};

/** The thumbnail type for a media type, or null when such media is not thumbnailed. */
export function thumbnailTypeFor(mediaType: string | null): 'image/jpeg' | 'image/png' | null {
  return mediaType ? (THUMBNAIL_TYPE[essence(mediaType)] ?? null) : null;
}

/**
 * The largest size within (maxW × maxH) keeping the source's aspect ratio, never larger than the
 * source (Synapse's `aspect` for scaled thumbnails, then capped at the source size).
 */
export function scaledSize(srcW: number, srcH: number, maxW: number, maxH: number): [number, number] {
  let w: number;
  let h: number;
  if (maxW * srcH < maxH * srcW) {
    w = maxW;
    h = Math.max(Math.floor((maxW * srcH) / srcW), 1);
  } else {
    w = Math.max(Math.floor((maxH * srcW) / srcH), 1);
    h = maxH;
  }
  return [Math.min(w, srcW), Math.min(h, srcH)];
}

/** The output size of a thumbnail of (w × h) by `method` from a source of (srcW × srcH). */
export function thumbnailSize(srcW: number, srcH: number, w: number, h: number, method: ThumbnailMethod): [number, number] {
  return method === 'crop' ? [w, h] : scaledSize(srcW, srcH, w, h);
}

/** Renders one thumbnail: crop fills (w × h) exactly from the centre, scale fits inside it. */
export async function renderThumbnail(
  source: string,
  w: number,
  h: number,
  method: ThumbnailMethod,
  type: 'image/jpeg' | 'image/png',
  maxPixels: number,
): Promise<Buffer> {
  const sharp = await loadSharp();
  const img = sharp(source, { limitInputPixels: maxPixels, failOn: 'error' }).rotate();
  const resized = img.resize(w, h, method === 'crop' ? { fit: 'cover', position: 'centre' } : { fit: 'fill' });
  return type === 'image/jpeg' ? resized.flatten({ background: '#ffffff' }).jpeg({ quality: 80 }).toBuffer() : resized.png().toBuffer();
}

/** Width and height of an image as displayed (EXIF orientation applied), or null when it is not one sharp reads. */
export async function imageSize(source: string, maxPixels: number): Promise<{ width: number; height: number } | null> {
  const sharp = await loadSharp();
  try {
    const m = await sharp(source, { limitInputPixels: false }).metadata();
    if (!m.width || !m.height) return null;
    const swap = (m.orientation ?? 1) >= 5;
    const size = swap ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
    return size.width * size.height > maxPixels ? null : size;
  } catch {
    return null;
  }
}

type Ranked = { key: number[]; info: ThumbnailInfo };

function best(list: Ranked[]): ThumbnailInfo | undefined {
  let winner: Ranked | undefined;
  for (const r of list) {
    if (!winner) {
      winner = r;
      continue;
    }
    for (let i = 0; i < r.key.length; i++) {
      if (r.key[i]! < winner.key[i]!) {
        winner = r;
        break;
      }
      if (r.key[i]! > winner.key[i]!) break;
    }
  }
  return winner?.info;
}

/**
 * Chooses among stored thumbnails as Synapse's `_select_thumbnail` does. For crop: among crop
 * thumbnails at least as large as asked, the closest aspect ratio, then one that is no smaller in
 * either dimension, then the closest area, then the asked type, then the smallest file; if none is
 * that large, the same ranking among the smaller ones. For scale: among scale thumbnails as wide
 * or as tall as asked, the closest size, then type, then file size; otherwise among the smaller.
 */
export function selectThumbnail(infos: readonly ThumbnailInfo[], w: number, h: number, method: ThumbnailMethod, type: string): ThumbnailInfo | undefined {
  const large: Ranked[] = [];
  const small: Ranked[] = [];
  for (const info of infos) {
    if (info.method !== method) continue;
    const tw = info.width;
    const th = info.height;
    const typeQuality = info.type === type ? 0 : 1;
    const sizeQuality = Math.abs((w - tw) * (h - th));
    if (method === 'crop') {
      const aspectQuality = Math.abs(w * th - h * tw);
      const minQuality = w <= tw && h <= th ? 0 : 1;
      const key = [aspectQuality, minQuality, sizeQuality, typeQuality, info.length];
      (tw >= w && th >= h ? large : small).push({ key, info });
    } else {
      const key = [sizeQuality, typeQuality, info.length];
      (tw >= w || th >= h ? large : small).push({ key, info });
    }
  }
  return best(large) ?? best(small);
}

/** Runs at most `limit` jobs at once; the rest wait their turn in order. */
export class ThumbnailQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
