import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** How the SMTP peer answers: accept, 451 (transient) or 550 (permanent) at DATA. */
export type SmtpPeerMode = 'accept' | 'tempfail' | 'permfail';

/** A real smtp-server on loopback that parses what it receives with mailparser. */
export interface SmtpPeer {
  port: number;
  mode: SmtpPeerMode;
  received: { envelope: { from: string; to: string[] }; raw: Buffer; parsed: ParsedMail }[];
  /** Resolves when `count` messages have arrived. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts an SMTP peer (STARTTLS disabled: its bundled certificate has expired). */
export async function startSmtpPeer(mode: SmtpPeerMode = 'accept', options: { parse?: boolean } = {}): Promise<SmtpPeer> {
  const waiters: { count: number; resolve: () => void }[] = [];
  const peer: SmtpPeer = {
    port: 0,
    mode,
    received: [],
    waitFor: (count) =>
      peer.received.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (peer.mode !== 'accept') {
          const error = Object.assign(new Error(peer.mode === 'tempfail' ? 'Try again later' : 'Mailbox unavailable'), {
            responseCode: peer.mode === 'tempfail' ? 451 : 550,
          });
          callback(error);
          return;
        }
        const raw = Buffer.concat(chunks);
        const envelope = {
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((entry) => entry.address),
        };
        const store = (parsed: ParsedMail): void => {
          peer.received.push({ envelope, raw, parsed });
          for (const waiter of waiters.filter((w) => peer.received.length >= w.count)) waiter.resolve();
        };
        if (options.parse === false) {
          store({} as ParsedMail);
          callback(null, 'OK: queued as ABC123');
        } else {
          simpleParser(raw).then(
            (parsed) => {
              store(parsed);
              callback(null, 'OK: queued as ABC123');
            },
            (error: unknown) => callback(error as Error),
          );
        }
      });
    },
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  peer.port = (server.server.address() as AddressInfo).port;
  return peer;
}

/** A TCP peer that greets like SMTP, then drops every connection after the client's first command. */
export async function startDroppingPeer(): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const state = { port: 0, connections: 0, close: async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  } };
  const server: NetServer = createNetServer((socket) => {
    state.connections++;
    socket.write('220 peer ESMTP\r\n');
    socket.once('data', () => socket.destroy());
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  return state;
}

/** A local HTTP server; `handler` sees the full body. */
export async function startHttpPeer(
  handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void | Promise<void>,
): Promise<{ url: string; port: number; server: HttpServer; close(): Promise<void> }> {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      Promise.resolve(handler(req, Buffer.concat(chunks), res)).catch((error: unknown) => {
        res.writeHead(500);
        res.end(String(error));
      });
    });
  });
  server.keepAliveTimeout = 1;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
