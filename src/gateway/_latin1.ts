// Native strings (PEP 3333 "bytes as latin-1") and their bytes, shared by
// util.ts and the router so both read and write paths the same way.

import { decodePath } from "./_request_rules.ts";

const encoder = new TextEncoder();

/** A native string's octets; a TypeError for a char above U+00FF. */
export function nativeToBytes(text: string, what: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) {
      throw new TypeError(
        `Cannot read ${what} ${
          JSON.stringify(text)
        }: native strings hold only U+0000-U+00FF, found U+${
          c.toString(16).toUpperCase().padStart(4, "0")
        } at ${i}`,
      );
    }
    bytes[i] = c;
  }
  return bytes;
}

/** Octets as a native string, one char per byte. */
export function bytesToNative(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** Text as the native string of its UTF-8 bytes: "é" → "Ã©". */
export function utf8ToNative(text: string): string {
  // ASCII is its own UTF-8: skip the round trip for the common case.
  // deno-lint-ignore no-control-regex
  if (/^[\x00-\x7f]*$/.test(text)) return text;
  return bytesToNative(encoder.encode(text));
}

/**
 * A route pattern or mount prefix, written as text (UTF-8, `%XX` escapes
 * allowed), in the form PATH_INFO takes: decoded octets, one char each.
 */
export function patternToNative(text: string): string {
  return decodePath(utf8ToNative(text));
}
