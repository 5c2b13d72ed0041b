// Request headers of the in-process benchmarks, the same shape wrk sends
// (browser_headers.lua): Host alone, or Host and eight a browser adds.

/** Host alone. */
export const ONE: [string, string][] = [["host", "127.0.0.1:8000"]];

/** Host and eight browser-like headers. */
export const NINE: [string, string][] = [
  ["host", "127.0.0.1:8000"],
  ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0"],
  ["accept", "text/html,application/xhtml+xml,*/*;q=0.8"],
  ["accept-language", "en-GB,en;q=0.9"],
  ["accept-encoding", "gzip, deflate, br, zstd"],
  ["cookie", "session=4f1c2a9e8b7d6c5e; theme=dark"],
  ["referer", "http://127.0.0.1/index.html"],
  ["sec-fetch-mode", "navigate"],
  ["cache-control", "max-age=0"],
];

/** The second handler argument Deno.serve passes. */
export const INFO = { remoteAddr: { hostname: "127.0.0.1", port: 40000 } };
