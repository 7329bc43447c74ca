import { MemoryPromptStore } from '../../../src/ai/memory-prompt-store.js';
import { describePromptStoreConformance } from '../../helpers/ai-store-conformance.js';

describePromptStoreConformance('memory', async () => ({ store: new MemoryPromptStore(), cleanup: async () => {} }));
