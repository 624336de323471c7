import { describe, expect, it } from 'vitest';
import { NetworkError, parsePublish, toNetworkSettings } from '@tsbuild/builder';

describe('parsePublish', () => {
  it('reads [IP:][HOST:]CTR[/tcp|udp] as docker does', () => {
    expect(parsePublish('8080:80')).toEqual({ hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual({ hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' });
    expect(parsePublish('0.0.0.0:53:53/udp')).toEqual({ hostIP: '', hostPort: 53, containerPort: 53, protocol: 'udp' });
    expect(parsePublish('80')).toEqual({ hostIP: '', hostPort: 0, containerPort: 80, protocol: 'tcp' });
    expect(parsePublish('127.0.0.1::80')).toEqual({ hostIP: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' });
  });

  it.each([
    ['8080:80/sctp', 'invalid protocol "sctp"'],
    ['8080:0', 'invalid container port "0"'],
    ['70000:80', 'invalid host port "70000"'],
    ['8080:http', 'invalid container port "http"'],
    ['example:8080:80', 'invalid host IP "example"'],
    ['8000-8010:80-90', 'port ranges are not supported'],
    ['::1:8080:80', 'IPv6 host addresses are not supported'],
    ['', 'invalid container port ""'],
  ])('refuses %j with one line', (value, reason) => {
    let error: unknown;
    try {
      parsePublish(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).kind).toBe('invalid-publish');
    expect((error as NetworkError).message).toContain(reason);
    expect((error as NetworkError).message).not.toContain('\n');
  });
});

describe('toNetworkSettings', () => {
  it("has docker's inspect shape: published ports with bindings, exposed-only ones null", () => {
    const settings = toNetworkSettings({
      mode: 'bridge', netnsPath: '/r/netns/c1', ipAddress: '10.99.0.5', prefixLength: 16, gateway: '10.99.0.1', macAddress: 'aa:bb:cc:dd:ee:ff',
      ports: [
        { hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' },
        { hostIP: '127.0.0.1', hostPort: 8081, containerPort: 80, protocol: 'tcp' },
      ],
    }, ['80/tcp', '443/tcp']);
    expect(settings).toEqual({
      IPAddress: '10.99.0.5', IPPrefixLen: 16, Gateway: '10.99.0.1', MacAddress: 'aa:bb:cc:dd:ee:ff', SandboxKey: '/r/netns/c1',
      Ports: {
        '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '8081' }],
        '443/tcp': null,
      },
    });
    expect(toNetworkSettings({ mode: 'host', ports: [] }, ['80/tcp'])).toEqual({
      IPAddress: '', IPPrefixLen: 0, Gateway: '', MacAddress: '', SandboxKey: '', Ports: {},
    });
  });
});
