/**
 * Test support: a TCP relay in front of the NATS server, to cut a client's line on purpose.
 */
import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP relay to the NATS server that can cut the line: `cut()` drops every connection and refuses
 * new ones until `mend()`. What a network partition or a restarting server looks like to a client.
 * `muteReplies()` drops what the server sends (acks lost on the way back) until the next `cut()`.
 */
export async function startNatsRelay(servers: string): Promise<{
  port: number;
  cut(): void;
  mend(): void;
  muteReplies(): void;
  close(): Promise<void>;
}> {
  const [host, port] = servers.replace(/^nats:\/\//, '').split(':');
  const sockets = new Set<Socket>();
  let down = false;
  let muted = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!muted) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('relay has no port');
  return {
    port: address.port,
    cut() {
      down = true;
      muted = false;
      for (const socket of sockets) socket.destroy();
    },
    mend() {
      down = false;
    },
    muteReplies() {
      muted = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
