// Byte helpers shared by the gateway, wsgi.input and the middleware.

/** Joins chunks whose lengths add up to `total` into one array. */
export function concat(
  parts: readonly Uint8Array[],
  total: number,
): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
