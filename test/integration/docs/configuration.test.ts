import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AUTH_ENV } from '../../../src/auth/index.js';
import { EMAIL_ENV } from '../../../src/communication/index.js';
import { UX_FLOW_ENV, type EnvVarSpec } from '../../../src/core/index.js';
import { readOptionInterfaces } from '../../helpers/docs-options.js';
import { REPO_ROOT } from '../../helpers/docs-snippets.js';

const page = readFileSync(join(REPO_ROOT, 'docs', 'guides', 'configuration.md'), 'utf8');

/** The table row documenting `name` (`| \`name\` | …`). */
function rowOf(name: string, text = page): string | undefined {
  return text.split('\n').find((line) => line.startsWith(`| \`${name}\``));
}

/** The `### \`Name\`` section's text, up to the next heading. */
function sectionOf(name: string): string | undefined {
  const parts = page.split(/\n(?=#{2,3} )/);
  return parts.find((part) => part.startsWith(`### \`${name}\``));
}

const INTERFACES = [
  'ConsoleLoggerOptions', 'RetryOptions', 'CircuitBreakerOptions', 'RedisRateLimiterOptions', 'MemoryRateLimiterOptions',
  'UnifiedAuthMiddlewareOptions', 'UserTokenOptions', 'ServiceTokenOptions', 'JwksOptions', 'TokenLocations', 'BruteForceOptions',
  'PerformanceMonitorOptions', 'DistributedTracerOptions', 'SystemMetricsOptions', 'AlertRule', 'HealthCheckOptions', 'GracefulShutdownOptions',
  'MessageQueueOptions', 'ProcessorOptions', 'JobOptions',
  'EmailConfig', 'EmailTrackingOptions', 'EmailRateLimits', 'EmailWebhookOptions', 'SmtpProviderOptions', 'SendGridProviderOptions',
  'SesProviderOptions', 'MailgunProviderOptions', 'DevProviderOptions', 'SendBulkOptions',
  'PromptOptimizerOptions', 'StartExperimentOptions', 'RedisPromptStoreOptions', 'AnthropicAdapterOptions', 'LlmJudgeOptions',
];

describe('docs/guides/configuration.md against the code', () => {
  const specs: [string, EnvVarSpec<unknown>][] = [
    ...Object.entries(UX_FLOW_ENV),
    ...Object.entries(AUTH_ENV),
    ...Object.entries(EMAIL_ENV),
  ] as [string, EnvVarSpec<unknown>][];

  it.each(specs)('documents %s with its default', (name, spec) => {
    const row = rowOf(name);
    expect(row, `no table row for ${name}`).toBeDefined();
    // Variables without a parser default still document what applies (— or the derived value).
    if (spec.default !== undefined) expect(row).toContain(`\`${String(spec.default as string | number | boolean)}\``);
  });

  it('documents every member of every options interface, in its own section', { timeout: 120_000 }, () => {
    const interfaces = readOptionInterfaces(INTERFACES);
    const missing: string[] = [];
    for (const name of INTERFACES) {
      const members = interfaces.get(name);
      expect(members, `interface ${name} not found in src`).toBeDefined();
      const section = sectionOf(name);
      if (section === undefined) {
        missing.push(`section for ${name}`);
        continue;
      }
      for (const member of members!) if (rowOf(member.name, section) === undefined) missing.push(`${name}.${member.name}`);
      // …and no row for an option that no longer exists.
      for (const line of section.split('\n')) {
        const documented = /^\| `([^`]+)`/.exec(line)?.[1];
        if (documented !== undefined && !members!.some((m) => m.name === documented)) missing.push(`stale ${name}.${documented}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
