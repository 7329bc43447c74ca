import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSite, CHROMIUM_ARGS, requireChromium, serveStatic } from '../../helpers/docs-site.js';

interface PageReport {
  url: string;
  status: number;
  title: string;
  contentChars: number;
  errors: string[];
  ids: Set<string>;
  links: string[];
}

/** The little of the DOM the crawler reads inside the page (the tsconfig has no DOM lib). */
interface DomElement {
  id: string;
  textContent: string | null;
  href?: string;
  getAttribute(name: string): string | null;
}
declare const document: {
  title: string;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement>;
};

/** The guides every build must contain, by their page title. */
const GUIDES = [
  'Getting started',
  'Core',
  'Auth',
  'Prompt optimizer',
  'Configuration reference',
  'Production checklist',
  'Migrating from BullMQ',
  'Migrating from express-jwt and express-oauth2-jwt-bearer',
  'Benchmarks',
];

/** Every page of the built site, read from disk: its anchors and the links in its HTML. */
function readStaticSite(outDir: string, base: string): Map<string, { ids: Set<string>; links: string[] }> {
  const pages = new Map<string, { ids: Set<string>; links: string[] }>();
  for (const file of readdirSync(outDir, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.html')) continue;
    const url = `${base}/${file.split(sep).join('/')}`;
    const html = readFileSync(join(outDir, file), 'utf8');
    const ids = new Set([...html.matchAll(/\s(?:id|name)="([^"]*)"/g)].map((m) => decodeEntities(m[1] ?? '')));
    const links = [...html.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((m) => new URL(decodeEntities(m[1] ?? ''), url).href);
    pages.set(url, { ids, links });
  }
  return pages;
}

function decodeEntities(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * Internal links whose page, anchor or asset does not exist. `pages` knows every page's anchors
 * (from the files); `linksByPage` are the links to check, per page they appear on.
 */
async function brokenLinks(
  pages: ReadonlyMap<string, { ids: ReadonlySet<string> }>,
  linksByPage: ReadonlyMap<string, readonly string[]>,
  base: string,
): Promise<string[]> {
  const broken = new Set<string>();
  const assets = new Map<string, number>();
  for (const [url, links] of linksByPage) {
    const from = url.slice(base.length);
    for (const link of links) {
      const target = new URL(link);
      if (target.origin !== base) continue;
      const hash = decodeURIComponent(target.hash.slice(1));
      target.hash = '';
      if (target.pathname.endsWith('.html') || target.pathname.endsWith('/')) {
        const page = pages.get(target.pathname.endsWith('/') ? `${target.href}index.html` : target.href);
        if (page === undefined) broken.add(`${from} -> ${link}`);
        else if (hash !== '' && !page.ids.has(hash)) broken.add(`${from} -> ${link} (no anchor "${hash}")`);
      } else {
        if (!assets.has(target.href)) assets.set(target.href, (await fetch(target.href, { method: 'HEAD' })).status);
        if (assets.get(target.href) !== 200) broken.add(`${from} -> ${link} (${String(assets.get(target.href))})`);
      }
    }
  }
  return [...broken];
}

/**
 * The pages opened in Chromium: the home page, the index pages, every guide and every module
 * page, and the first page of each API kind (classes, interfaces, ...). The rest of the ~450
 * API pages come from the same TypeDoc template; their links and anchors are checked from the
 * files, which takes milliseconds instead of minutes.
 */
function pagesToRender(outDir: string, base: string): string[] {
  const urls = ['index.html', 'modules.html', 'hierarchy.html'].filter((f) => existsSync(join(outDir, f)));
  for (const dir of readdirSync(outDir, { withFileTypes: true })) {
    if (!dir.isDirectory() || dir.name === 'assets') continue;
    const files = readdirSync(join(outDir, dir.name)).filter((f) => f.endsWith('.html')).sort();
    const all = dir.name === 'documents' || dir.name === 'modules';
    for (const file of all ? files : files.slice(0, 1)) urls.push(`${dir.name}/${file}`);
  }
  return urls.map((file) => `${base}/${file}`);
}

describe('the docs site in headless Chromium', () => {
  const work = mkdtempSync(join(tmpdir(), 'uxflow-docs-site-'));
  const outDir = join(work, 'site');
  let server: Server;
  let base: string;
  let context: BrowserContext;
  const reports = new Map<string, PageReport>();
  let staticPages = new Map<string, { ids: Set<string>; links: string[] }>();

  beforeAll(async () => {
    const executablePath = requireChromium();
    await buildSite(outDir);
    ({ url: base, server } = await serveStatic(outDir));
    context = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath, headless: true, args: CHROMIUM_ARGS });

    staticPages = readStaticSite(outDir, base);
    // Two tabs (one per core), each reused from page to page.
    const queue = pagesToRender(outDir, base);
    const worker = async (): Promise<void> => {
      const page = await context.newPage();
      let errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
        errors = [];
        const response = await page.goto(url, { waitUntil: 'load' });
        const found = await page.evaluate(() => ({
          title: document.title,
          contentChars: (document.querySelector('.col-content')?.textContent ?? '').trim().length,
          ids: [...document.querySelectorAll('[id], a[name]')].map((el) => el.id || el.getAttribute('name') || ''),
          links: [...document.querySelectorAll('a[href]')].map((a) => a.href ?? ''),
        }));
        reports.set(url, { url, status: response?.status() ?? 0, title: found.title, contentChars: found.contentChars, errors, ids: new Set(found.ids), links: found.links });
      }
      await page.close();
    };
    await Promise.all([worker(), worker()]);
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
    rmSync(work, { recursive: true, force: true });
  });

  it('renders the home page, every guide, every module page and a page of each API kind', () => {
    expect(staticPages.size).toBeGreaterThan(100);
    expect(reports.size).toBeGreaterThan(20);
    const titles = [...reports.values()].map((report) => report.title);
    for (const guide of GUIDES) expect(titles.some((title) => title.startsWith(`${guide} |`)), guide).toBe(true);
  });

  it('renders every opened page: 200, a title, main content, no console errors', () => {
    const bad = [...reports.values()]
      .filter((r) => r.status !== 200 || !r.title.includes('@ux-flow/common') || r.contentChars < 20 || r.errors.length > 0)
      .map((r) => `${r.url.slice(base.length)}: status ${r.status}, title "${r.title}", ${r.contentChars} chars, errors ${JSON.stringify(r.errors)}`);
    expect(bad).toEqual([]);
  });

  it('has no broken internal link or anchor: on any page of the site, nor in what Chromium rendered', async () => {
    const rendered = new Map([...reports.values()].map((r) => [r.url, r.links]));
    const inFiles = new Map([...staticPages].map(([url, page]) => [url, page.links]));
    expect(await brokenLinks(staticPages, inFiles, base)).toEqual([]);
    expect(await brokenLinks(staticPages, rendered, base)).toEqual([]);
    // Every page of the site is reachable from some other page's links.
    const linked = new Set([...staticPages.values()].flatMap((page) => page.links.map((link) => link.split('#')[0])));
    const orphans = [...staticPages.keys()].filter((url) => !url.endsWith('/index.html') && !linked.has(url));
    expect(orphans).toEqual([]);
  });

  it('reports a link to a missing page or anchor (the checker is not blind)', async () => {
    const probe = new Map([[`${base}/probe.html`, [`${base}/documents/No_such_page.html`, `${base}/index.html#no-such-anchor`, `${base}/assets/no-such.js`]]]);
    expect(await brokenLinks(staticPages, probe, base)).toHaveLength(3);
  });
});
