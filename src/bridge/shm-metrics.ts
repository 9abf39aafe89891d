/** Prometheus gauges for shared-memory payloads (`snakepit_shm_*`), read from `shmStats()` at scrape time. */

import { Gauge, type Registry } from "prom-client";
import { type ShmStats, shmStats } from "./shm-lifecycle.ts";

/** Register the gauges on `registry`. A `mapped_bytes` that only grows is a leak. */
export function registerShmGauges(registry: Registry): void {
  const gauge = (name: string, help: string, read: (s: ShmStats) => number) =>
    new Gauge({
      name, help, registers: [registry],
      collect() {
        this.set(read(shmStats()));
      },
    });
  gauge("snakepit_shm_mapped_segments", "Shared-memory results the host still holds", (s) => s.mapped);
  gauge("snakepit_shm_mapped_bytes", "Bytes of shared-memory results the host still holds", (s) => s.mappedBytes);
  gauge("snakepit_shm_released_total", "Shared-memory results freed by release()", (s) => s.released);
  gauge("snakepit_shm_collected_total", "Shared-memory results freed by the garbage collector", (s) => s.collected);
  gauge("snakepit_shm_in_transit_segments", "Segments sent to workers and not mapped by them yet", (s) => s.inTransit);
  gauge("snakepit_shm_in_transit_bytes", "Bytes of segments sent to workers and not mapped by them yet", (s) => s.inTransitBytes);
  gauge("snakepit_shm_pool_segments", "Reusable segments in the host's pool (arguments)", (s) => s.pool.segments);
  gauge("snakepit_shm_pool_bytes", "Bytes of reusable segments in the host's pool", (s) => s.pool.bytes);
  gauge("snakepit_shm_pool_lent_segments", "Segments of the host's pool a worker holds right now", (s) => s.pool.lent);
  gauge("snakepit_shm_peer_bytes", "Bytes of workers' pooled segments (results) the host keeps mapped", (s) => s.peers.bytes);
  gauge("snakepit_shm_copied_out_total", "Results copied out of a worker's pool because unreleased results pinned a quarter of it", (s) => s.peers.copiedOut);
}
