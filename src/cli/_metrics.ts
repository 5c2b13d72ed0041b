// Prometheus metrics of the tsgi command: each worker counts its own
// exchanges and sends the counts to its supervisor, which adds up every
// worker's (those gone included) and serves them as text at /metrics.

/** Upper bounds of the latency histogram, in seconds. */
export const BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
] as const;

/** One worker's counters, as it sends them. */
export interface MetricsData {
  /** `"GET 200"` → count. */
  requests: Record<string, number>;
  /** Count per bucket of BUCKETS, then +Inf. */
  buckets: number[];
  durationSum: number;
  bytes: number;
  inFlight: number;
  requestTimeouts: number;
}

function empty(): MetricsData {
  return {
    requests: {},
    buckets: new Array(BUCKETS.length + 1).fill(0),
    durationSum: 0,
    bytes: 0,
    inFlight: 0,
    requestTimeouts: 0,
  };
}

/** A worker's counters. */
export class WorkerMetrics {
  readonly data: MetricsData = empty();

  /** One finished exchange. */
  record(method: string, status: number, bytes: number, ms: number): void {
    const key = `${method} ${status}`;
    this.data.requests[key] = (this.data.requests[key] ?? 0) + 1;
    const seconds = ms / 1000;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]) i++;
    this.data.buckets[i]++;
    this.data.durationSum += seconds;
    this.data.bytes += bytes;
  }
}

function add(into: MetricsData, from: MetricsData): void {
  for (const [key, count] of Object.entries(from.requests)) {
    into.requests[key] = (into.requests[key] ?? 0) + count;
  }
  from.buckets.forEach((count, i) => into.buckets[i] += count);
  into.durationSum += from.durationSum;
  into.bytes += from.bytes;
  into.inFlight += from.inFlight;
  into.requestTimeouts += from.requestTimeouts;
}

/** Escapes a Prometheus label value. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

/** The supervisor's sum over its workers. */
export class SupervisorMetrics {
  #live = new Map<number, MetricsData>();
  #gone: MetricsData = empty();
  restarts = 0;
  workerTimeouts = 0;

  /** A worker's latest counters. */
  update(pid: number, data: MetricsData): void {
    this.#live.set(pid, data);
  }

  /** A worker has exited: its counts stay, its in-flight requests do not. */
  exited(pid: number): void {
    const last = this.#live.get(pid);
    if (last === undefined) return;
    this.#live.delete(pid);
    add(this.#gone, { ...last, inFlight: 0 });
  }

  /** The Prometheus text exposition. */
  render(workers: number): string {
    const total = empty();
    add(total, this.#gone);
    for (const data of this.#live.values()) add(total, data);
    const lines: string[] = [
      "# HELP tsgi_requests_total Requests served, by method and status.",
      "# TYPE tsgi_requests_total counter",
    ];
    for (const key of Object.keys(total.requests).sort()) {
      const [method, status] = key.split(" ");
      lines.push(
        `tsgi_requests_total{method="${label(method)}",status="${status}"} ${
          total.requests[key]
        }`,
      );
    }
    lines.push(
      "# HELP tsgi_request_duration_seconds Time from request to the end of the response.",
      "# TYPE tsgi_request_duration_seconds histogram",
    );
    let cumulative = 0;
    BUCKETS.forEach((bound, i) => {
      cumulative += total.buckets[i];
      lines.push(
        `tsgi_request_duration_seconds_bucket{le="${bound}"} ${cumulative}`,
      );
    });
    cumulative += total.buckets[BUCKETS.length];
    lines.push(
      `tsgi_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`,
      `tsgi_request_duration_seconds_sum ${total.durationSum}`,
      `tsgi_request_duration_seconds_count ${cumulative}`,
      "# HELP tsgi_requests_in_flight Requests the app is working on.",
      "# TYPE tsgi_requests_in_flight gauge",
      `tsgi_requests_in_flight ${total.inFlight}`,
      "# HELP tsgi_response_bytes_total Response body bytes sent.",
      "# TYPE tsgi_response_bytes_total counter",
      `tsgi_response_bytes_total ${total.bytes}`,
      "# HELP tsgi_request_timeouts_total Requests that ran past --request-timeout.",
      "# TYPE tsgi_request_timeouts_total counter",
      `tsgi_request_timeouts_total ${total.requestTimeouts}`,
      "# HELP tsgi_worker_restarts_total Workers replaced (died, timed out or recycled).",
      "# TYPE tsgi_worker_restarts_total counter",
      `tsgi_worker_restarts_total ${this.restarts}`,
      "# HELP tsgi_worker_timeouts_total Workers killed by --timeout.",
      "# TYPE tsgi_worker_timeouts_total counter",
      `tsgi_worker_timeouts_total ${this.workerTimeouts}`,
      "# HELP tsgi_workers Worker processes running.",
      "# TYPE tsgi_workers gauge",
      `tsgi_workers ${workers}`,
    );
    return lines.join("\n") + "\n";
  }
}
