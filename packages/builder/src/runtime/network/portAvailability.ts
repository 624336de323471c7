import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { NetworkError } from './networkError.js';
import { describeHostPort, type PortMapping } from './portMapping.js';

/** Binds the host side for a moment: the port is free if the kernel lets us. Resolves with the bound port. */
function probe(port: PortMapping): Promise<number> {
  const host = port.hostIP || '0.0.0.0';
  return new Promise((resolve, reject) => {
    if (port.protocol === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind({ address: host, port: port.hostPort, exclusive: true }, () => {
        const bound = socket.address().port;
        socket.close(() => resolve(bound));
      });
    } else {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host, port: port.hostPort, exclusive: true }, () => {
        const address = server.address();
        const bound = typeof address === 'object' && address ? address.port : port.hostPort;
        server.close(() => resolve(bound));
      });
    }
  });
}

function overlaps(a: PortMapping, b: PortMapping): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIP === b.hostIP || a.hostIP === '' || b.hostIP === '');
}

/**
 * Checks every host port before anything is created, so a clash is a one-line
 * error with nothing to undo. A port is in use when a host socket holds it or
 * another container's mapping (`taken`) does: DNAT would otherwise shadow one
 * of them silently. Host port 0 becomes a free port.
 */
export async function claimHostPorts(ports: readonly PortMapping[], taken: readonly PortMapping[]): Promise<PortMapping[]> {
  const claimed: PortMapping[] = [];
  for (const port of ports) {
    const clash = [...taken, ...claimed].find((other) => port.hostPort !== 0 && overlaps(port, other));
    if (clash) throw new NetworkError('port-in-use', `cannot publish ${describeHostPort(port)}: port is already allocated`);
    let hostPort: number;
    try {
      hostPort = await probe(port);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new NetworkError('port-in-use', `cannot publish ${describeHostPort(port)}: address already in use`);
      if (code === 'EADDRNOTAVAIL') throw new NetworkError('invalid-publish', `cannot publish ${describeHostPort(port)}: the host has no address ${port.hostIP}`);
      if (code === 'EACCES') throw new NetworkError('port-in-use', `cannot publish ${describeHostPort(port)}: permission denied`);
      throw e;
    }
    claimed.push({ ...port, hostPort });
  }
  return claimed;
}
