/**
 * The version of the host <-> worker protocol (proto/snakepit/bridge/v1). The worker reports its
 * own in Ready; the host answers with this one, and a worker speaking another version exits
 * naming both. python/snakepit_bridge/server.py holds the Python side's (a test compares them).
 */
export const PROTOCOL_VERSION = 1;
