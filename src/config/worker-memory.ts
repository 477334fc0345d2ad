/**
 * V8 flags for the worker's process, through NODE_OPTIONS (docker-compose.yml sets them; the benchmarks' worker runs
 * with them). Node's defaults size each V8 heap (the main thread's, and the workflow thread's that holds the sticky
 * cache) for a machine's whole memory, so garbage piles up long before it is collected: 2 MB semi-spaces keep the
 * young generation small, and a 256 MB old generation per heap makes V8 collect sooner. 500 cached workflows need
 * well under that (benchmark 4); raise --max-old-space-size with maxCachedWorkflows.
 */
export const WORKER_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=256';
