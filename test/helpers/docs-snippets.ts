import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** The repository root (this file lives in test/helpers). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** One fenced ```ts block of a Markdown file. */
export interface Snippet {
  /** Repository-relative path of the Markdown file. */
  file: string;
  /** 1-based line of the first code line in the Markdown file. */
  line: number;
  code: string;
  /** Marked ```ts ignore: an intentional fragment, not type-checked. */
  ignored: boolean;
}

/** A type error in a snippet, located in the Markdown file. */
export interface SnippetError {
  file: string;
  line: number;
  message: string;
}

/** README.md and every Markdown file under docs/ except the generated API reference. */
export function markdownFiles(root = REPO_ROOT): string[] {
  const out = [join(root, 'README.md')];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (full !== join(root, 'docs', 'api')) walk(full);
      } else if (entry.name.endsWith('.md')) out.push(full);
    }
  };
  walk(join(root, 'docs'));
  return out.sort();
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;

/** The ```ts / ```typescript blocks of one Markdown text (other languages are skipped). */
export function extractSnippets(file: string, text: string): Snippet[] {
  const lines = text.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) continue;
    const fence = open[2]!;
    const lang = open[3]!.toLowerCase();
    const flags = open[4]!.split(/\s+/).filter(Boolean);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') break;
      body.push(line);
    }
    if (lang === 'ts' || lang === 'typescript') {
      snippets.push({ file, line: i + 2, code: body.join('\n'), ignored: flags.includes('ignore') });
    }
    i = j;
  }
  return snippets;
}

/**
 * Names the guides use without declaring them, as a reader's surrounding service would hold them.
 * Declared once, globally, for the snippet program only; a snippet that declares one itself
 * shadows it (every snippet is a module).
 */
const AMBIENT = `
import type { Express, Request, Response, NextFunction } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from '@ux-flow/common/core';
import type { UnifiedAuthMiddleware, UserService } from '@ux-flow/common/auth';
import type { PerformanceMonitor } from '@ux-flow/common/monitoring';
import type { MessageQueue } from '@ux-flow/common/queue';
import type { EnhancedEmailService } from '@ux-flow/common/communication';
import type { LlmAdapter, PromptOptimizer } from '@ux-flow/common/ai';

type Handler = (req: Request, res: Response, next: NextFunction) => void | Promise<void>;

declare global {
  /** The service's Express app. */
  const app: Express;
  /** An ioredis client the service already has. */
  const redisClient: Redis;
  /** Same, under the names other guides use. */
  const client: Redis;
  const redis: Redis;
  /** Any pino-compatible logger. */
  const logger: Logger;
  /** The service's user repository. */
  const userManager: UserService;
  const userService: UserService;
  const auth: UnifiedAuthMiddleware;
  const performanceMonitor: PerformanceMonitor;
  const messageQueue: MessageQueue;
  const queue: MessageQueue;
  const emailService: EnhancedEmailService;
  const optimizer: PromptOptimizer;
  const llm: LlmAdapter;
  /** Route handlers of the reader's service. */
  const list: Handler, reports: Handler, save: Handler, billing: Handler, reindex: Handler, getFlow: Handler, admin: Handler, handler: Handler;
  /** Placeholders for the reader's own values and functions. */
  const url: string, body: string, userId: string, luaSource: string, actionUrl: string, resetUrl: string;
  function doWork(): Promise<void>;
  function reply(status: number, body?: unknown): void;
  function processAIRequest(data: unknown): Promise<unknown>;
}
export {};
`;

/**
 * Type-checks snippets against the package sources (the repository's tsconfig and its paths
 * for \`@ux-flow/common\`), in a temporary directory. Returns the errors located in the Markdown.
 */
export function typeCheckSnippets(snippets: readonly Snippet[], root = REPO_ROOT): SnippetError[] {
  const dir = mkdtempSync(join(tmpdir(), 'uxflow-docs-snippets-'));
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(join(dir, 'ambient.d.ts'), AMBIENT);
    const byFile = new Map<string, Snippet>();
    snippets.forEach((snippet, index) => {
      const name = `snippet-${String(index).padStart(3, '0')}.ts`;
      byFile.set(join(dir, name), snippet);
      writeFileSync(join(dir, name), `${snippet.code}\nexport {};\n`);
    });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(root, 'tsconfig.json'), include: ['*.ts'], compilerOptions: { noUnusedLocals: false } }),
    );
    const parsed = ts.getParsedCommandLineOfConfigFile(join(dir, 'tsconfig.json'), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    });
    if (parsed === undefined) throw new Error('could not read the snippet tsconfig');
    const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
    const errors: SnippetError[] = [];
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const source = diagnostic.file;
      if (source === undefined) {
        errors.push({ file: '(program)', line: 0, message });
        continue;
      }
      const snippet = byFile.get(resolve(source.fileName));
      if (snippet === undefined) {
        if (source.fileName.startsWith(dir)) errors.push({ file: relative(dir, source.fileName), line: 0, message });
        continue; // errors inside src/ are the typecheck's business
      }
      const { line } = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
      errors.push({ file: snippet.file, line: snippet.line + line, message });
    }
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every snippet of README.md and docs/**\/*.md, with repository-relative file names. */
export function allSnippets(root = REPO_ROOT): Snippet[] {
  return markdownFiles(root).flatMap((file) => extractSnippets(relative(root, file), readFileSync(file, 'utf8')));
}
