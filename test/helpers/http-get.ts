import { request, type Agent } from 'node:http';

/** What {@link httpGet} resolves with. */
export interface HttpGetResult {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A GET with Node's own client (default agent unless one is given); resolves with status, body and headers. */
export function httpGet(url: string, agent?: Agent): Promise<HttpGetResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
