import { join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from './docs-snippets.js';

/** One member of an options interface, with the first paragraph of its TSDoc. */
export interface OptionDoc {
  name: string;
  optional: boolean;
  type: string;
  doc: string;
}

/**
 * Reads the members of exported interfaces from the package sources (own members and those of
 * interfaces they extend), so the configuration reference can be checked against the code.
 */
export function readOptionInterfaces(names: readonly string[], root = REPO_ROOT): Map<string, OptionDoc[]> {
  const configPath = join(root, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: () => undefined,
  });
  if (parsed === undefined) throw new Error('could not read tsconfig.json');
  const program = ts.createProgram({ rootNames: [join(root, 'src', 'index.ts'), ...['core', 'auth', 'monitoring', 'queue', 'communication', 'ai'].map((b) => join(root, 'src', b, 'index.ts'))], options: parsed.options });
  const checker = program.getTypeChecker();
  const wanted = new Set(names);
  const out = new Map<string, OptionDoc[]>();
  for (const source of program.getSourceFiles()) {
    if (!source.fileName.startsWith(join(root, 'src'))) continue;
    ts.forEachChild(source, (node) => {
      if (!ts.isInterfaceDeclaration(node) || !wanted.has(node.name.text) || out.has(node.name.text)) return;
      const type = checker.getTypeAtLocation(node);
      const members: OptionDoc[] = [];
      for (const symbol of checker.getPropertiesOfType(type)) {
        const declaration = symbol.declarations?.[0];
        members.push({
          name: symbol.name,
          optional: (symbol.flags & ts.SymbolFlags.Optional) !== 0,
          type: declaration === undefined ? '' : checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, declaration)),
          doc: ts.displayPartsToString(symbol.getDocumentationComment(checker)).split('\n\n')[0]!.replace(/\s+/g, ' ').trim(),
        });
      }
      out.set(node.name.text, members);
    });
  }
  return out;
}
