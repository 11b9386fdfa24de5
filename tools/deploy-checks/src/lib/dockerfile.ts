import { DockerfileParser, Instruction, ModifiableInstruction } from 'dockerfile-ast';

export interface Stage {
  index: number;
  /** `AS <name>`, lower-cased, or undefined. */
  name: string | undefined;
  /** The FROM argument as written (may contain `${VARIABLE}`). */
  base: string;
  /** Instructions after this stage's FROM, up to the next FROM. */
  instructions: Instruction[];
}

export interface ParsedDockerfile {
  /** ARGs before the first FROM: name → default value (undefined when it has none). */
  globalArgs: Map<string, string | undefined>;
  stages: Stage[];
}

export function parseDockerfile(text: string): ParsedDockerfile {
  const dockerfile = DockerfileParser.parse(text);
  const globalArgs = new Map<string, string | undefined>();
  for (const arg of dockerfile.getInitialARGs()) {
    const property = arg.getProperty();
    if (property) {
      globalArgs.set(property.getName(), property.getValue() ?? undefined);
    }
  }
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword().toUpperCase();
    if (keyword === 'FROM') {
      const args = instruction.getArguments().map((argument) => argument.getValue());
      const asIndex = args.findIndex((value) => value.toUpperCase() === 'AS');
      const flagless = args.filter((value) => !value.startsWith('--'));
      stages.push({
        index: stages.length,
        name: asIndex >= 0 ? args[asIndex + 1]?.toLowerCase() : undefined,
        base: flagless[0] ?? '',
        instructions: [],
      });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** Replaces `$NAME` and `${NAME}` (and `${NAME:-default}`) with the given build-arg values. */
export function expandArgs(text: string, values: ReadonlyMap<string, string | undefined>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced, fallback, bare) => {
      const name = (braced ?? bare) as string;
      return values.get(name) ?? (fallback as string | undefined) ?? whole;
    },
  );
}

export function stageByName(parsed: ParsedDockerfile, name: string): Stage | undefined {
  return parsed.stages.find((stage) => stage.name === name.toLowerCase());
}

/**
 * The stages an image is made of, from the one on an external base image to `target` (the last
 * stage by default), with `buildArgs` substituted into FROM lines that name another stage.
 */
export function stageChain(
  parsed: ParsedDockerfile,
  buildArgs: ReadonlyMap<string, string | undefined>,
  target: Stage = parsed.stages[parsed.stages.length - 1],
): Stage[] {
  const args = new Map([...parsed.globalArgs, ...buildArgs]);
  const chain: Stage[] = [];
  let current: Stage | undefined = target;
  while (current) {
    if (chain.includes(current)) {
      throw new Error(`stage cycle at ${current.name ?? current.index}`);
    }
    chain.unshift(current);
    const child: Stage = current;
    const base: string = expandArgs(child.base, args).toLowerCase();
    current = parsed.stages.find((stage) => stage.name === base && stage.index < child.index);
  }
  return chain;
}

/** The external base image of a stage chain (the first stage's FROM). */
export function externalBase(chain: Stage[], buildArgs: ReadonlyMap<string, string | undefined>): string {
  return expandArgs(chain[0].base, buildArgs);
}

export function instructionsOf(chain: Stage[], keyword: string): Instruction[] {
  return chain.flatMap((stage) => stage.instructions).filter((i) => i.getKeyword().toUpperCase() === keyword);
}

/** Exec-form arguments of CMD/ENTRYPOINT (`["node", "main.js"]`), or undefined for shell form. */
export function execForm(instruction: Instruction): string[] | undefined {
  const content = instruction.getArgumentsContent()?.trim() ?? '';
  if (!content.startsWith('[')) {
    return undefined;
  }
  return JSON.parse(content) as string[];
}

export interface CopyInstruction {
  from: string | undefined;
  sources: string[];
  destination: string;
}

export function copyInstructions(stage: Stage): CopyInstruction[] {
  return stage.instructions
    .filter((instruction) => ['COPY', 'ADD'].includes(instruction.getKeyword().toUpperCase()))
    .map((instruction) => {
      const flags = instruction instanceof ModifiableInstruction ? instruction.getFlags() : [];
      const from = flags.find((flag) => flag.getName() === 'from')?.getValue() ?? undefined;
      const paths = instruction.getArguments().map((argument) => argument.getValue());
      return { from, sources: paths.slice(0, -1), destination: paths[paths.length - 1] ?? '' };
    });
}

/** The text of every RUN of a stage, continuation lines joined. */
export function runCommands(stage: Stage): string[] {
  return stage.instructions
    .filter((instruction) => instruction.getKeyword().toUpperCase() === 'RUN')
    .map((instruction) => (instruction.getArgumentsContent() ?? '').replace(/\\\r?\n/g, ' ').replace(/\s+/g, ' '));
}

/** ENV values set along a chain (later stages win). */
export function envOf(chain: Stage[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const instruction of instructionsOf(chain, 'ENV')) {
    const content = (instruction.getArgumentsContent() ?? '').replace(/\\\r?\n/g, ' ');
    for (const match of content.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
      env.set(match[1], match[2].replace(/^"(.*)"$/, '$1'));
    }
  }
  return env;
}
