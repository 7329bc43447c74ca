/**
 * The prompt flow-api serves for new flows, and the experiment that decides which wording works
 * best. Registered once per store (Redis prefix): a restart does not add versions.
 */
import type { PromptOptimizer } from '@ux-flow/common';
import { PromptOptimizerError } from '@ux-flow/common/ai';

/** Name of the template. */
export const FLOW_PROMPT = 'flow-outline';

/** Registers the template, its variations and starts the experiment, unless already done. */
export async function ensureFlowPrompt(optimizer: PromptOptimizer): Promise<void> {
  const versions = await optimizer.listVersions(FLOW_PROMPT).catch(() => []);
  if (versions.length === 0) {
    await optimizer.registerTemplate(FLOW_PROMPT, {
      description: 'Outline of a UX flow from a title and a description, grounded on team guidelines',
      messages: [
        { role: 'system', content: 'You design user flows for web products. Follow these guidelines:\n{{guidelines}}' },
        { role: 'user', content: 'Outline a flow named "{{title}}". Context: {{description}}' },
      ],
      variables: { title: 'string', description: 'string', guidelines: 'string' },
      tags: ['flows'],
    });
    await optimizer.addVariation(FLOW_PROMPT, {
      id: 'numbered-steps',
      messages: [
        { role: 'system', content: 'You design user flows. Answer with numbered steps, one screen per step. Guidelines:\n{{guidelines}}' },
        { role: 'user', content: 'Flow "{{title}}": {{description}}' },
      ],
    });
    await optimizer.addVariation(FLOW_PROMPT, {
      id: 'terse',
      messages: [
        { role: 'system', content: 'Be brief. Guidelines: {{guidelines}}' },
        { role: 'user', content: '{{title}}: {{description}}' },
      ],
    });
  }
  const report = await optimizer.getReport(FLOW_PROMPT);
  if (report.experiment?.status === 'running') return;
  try {
    await optimizer.startExperiment(FLOW_PROMPT, { variations: ['numbered-steps', 'terse'], metric: 'quality' });
  } catch (error) {
    // Another instance started it first (the start is atomic across instances).
    if (!PromptOptimizerError.isInstance(error)) throw error;
  }
}
