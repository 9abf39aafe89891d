/** Whether a host name (optionally with a port, IPv6 in brackets or not) means this machine. */

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|::1)$/i;

export function isLoopback(host: string): boolean {
  let name = host.trim();
  if (name.startsWith("[")) name = name.slice(1, name.indexOf("]") > 0 ? name.indexOf("]") : undefined);
  else if (name.split(":").length === 2) name = name.split(":")[0]!; // name:port (bare IPv6 has more colons)
  return LOOPBACK.test(name);
}
