/** The recent flows of each workspace: a capped Redis list, or a map without Redis. */
import type { Redis } from 'ioredis';

/** A flow as the API lists it; its progress lives in the queue (job `flow:<id>`). */
export interface FlowSummary {
  flowId: string;
  title: string;
  createdBy: string;
  createdAt: number;
}

const KEEP = 100;

/** Stores and lists flow summaries per workspace. */
export class FlowIndex {
  private readonly memory = new Map<string, FlowSummary[]>();

  constructor(
    private readonly redis: Redis | undefined,
    private readonly prefix: string,
  ) {}

  private key(workspaceId: string): string {
    return `${this.prefix}:flows:${workspaceId}`;
  }

  async add(workspaceId: string, flow: FlowSummary): Promise<void> {
    if (this.redis !== undefined) {
      await this.redis.multi().lpush(this.key(workspaceId), JSON.stringify(flow)).ltrim(this.key(workspaceId), 0, KEEP - 1).exec();
      return;
    }
    const list = this.memory.get(workspaceId) ?? [];
    list.unshift(flow);
    list.length = Math.min(list.length, KEEP);
    this.memory.set(workspaceId, list);
  }

  async list(workspaceId: string, limit = 20): Promise<FlowSummary[]> {
    if (this.redis !== undefined) {
      const raw = await this.redis.lrange(this.key(workspaceId), 0, limit - 1);
      return raw.map((entry) => JSON.parse(entry) as FlowSummary);
    }
    return (this.memory.get(workspaceId) ?? []).slice(0, limit);
  }
}
