/**
 * The demo generator's own seeded randomness: sfc32 seeded through a 32-bit mixer. Every
 * value the generator makes comes from here, so a seed reproduces a league exactly.
 */

/** A seeded generator of floats in [0, 1). */
export type Random = () => number;

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `text`: league ids may exceed 2^53, so they are hashed as text. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The two 32-bit halves of a safe integer (negative seeds included), hashed together. */
export function hashSeed(seed: number): number {
  const low = seed >>> 0;
  const high = Math.floor(seed / 0x1_0000_0000) >>> 0;
  return mix32(mix32(low) ^ (high + 0x9e3779b9));
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), 32-bit state words. */
function sfc32(a: number, b: number, c: number, d: number): Random {
  return () => {
    a |= 0; b |= 0; c |= 0; d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** A generator seeded by any number of 32-bit parts (seed hash, league hash, season, ...). */
export function createRandom(...parts: number[]): Random {
  let h = 0x6a09e667;
  for (const part of parts) h = mix32(h ^ mix32(part + 0x9e3779b9));
  const random = sfc32(h, mix32(h ^ 0xbb67ae85), mix32(h ^ 0x3c6ef372), mix32(h ^ 0xa54ff53a));
  // The first outputs of a freshly seeded sfc32 are weakly mixed: discard them.
  for (let i = 0; i < 12; i++) random();
  return random;
}
