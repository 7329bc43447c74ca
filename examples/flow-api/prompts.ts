/**
 * The prompt flow-api serves for new flows, and the experiment that decides which wording works
 * best. Safe to run at every start, by every instance: registering unchanged content keeps the
 * current version, and a variation or experiment that exists already is left as it is.
 */
import type { PromptOptimizer } from '@ux-flow/common';
import { PromptOptimizerError } from '@ux-flow/common/ai';

/** Name of the template. */
export const FLOW_PROMPT = 'flow-outline';

const VARIATIONS = [
  {
    id: 'numbered-steps',
    messages: [
      { role: 'system', content: 'You design user flows. Answer with numbered steps, one screen per step. Guidelines:\n{{guidelines}}' },
      { role: 'user', content: 'Flow "{{title}}": {{description}}' },
    ],
  },
  {
    id: 'terse',
    messages: [
      { role: 'system', content: 'Be brief. Guidelines: {{guidelines}}' },
      { role: 'user', content: '{{title}}: {{description}}' },
    ],
  },
] as const;

/** Registers the template and its variations and starts the experiment, unless already done. */
export async function ensureFlowPrompt(optimizer: PromptOptimizer): Promise<void> {
  await optimizer.registerTemplate(FLOW_PROMPT, {
    description: 'Outline of a UX flow from a title and a description, grounded on team guidelines',
    messages: [
      { role: 'system', content: 'You design user flows for web products. Follow these guidelines:\n{{guidelines}}' },
      { role: 'user', content: 'Outline a flow named "{{title}}". Context: {{description}}' },
    ],
    variables: { title: 'string', description: 'string', guidelines: 'string' },
    tags: ['flows'],
  });
  // Registering the same content again (an earlier start, another instance) returns what is stored.
  for (const variation of VARIATIONS) await optimizer.addVariation(FLOW_PROMPT, variation);
  try {
    await optimizer.startExperiment(FLOW_PROMPT, { variations: VARIATIONS.map((variation) => variation.id), metric: 'quality' });
  } catch (error) {
    // Already running (an earlier start, or another instance first: the start is atomic).
    if (!PromptOptimizerError.isInstance(error)) throw error;
  }
}
