/** One sample line of a Prometheus text exposition: `name{label="value",…} value`. */
export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusExposition {
  samples: PrometheusSample[];
  /** `# TYPE` of each metric family. */
  types: Record<string, string>;
  /** `# HELP` of each metric family. */
  help: Record<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;

/**
 * Parses Prometheus' text format (what `/metrics` serves). Throws on a line it cannot read, so
 * a malformed exposition fails the test instead of hiding samples.
 */
export function parsePrometheusText(text: string): PrometheusExposition {
  const exposition: PrometheusExposition = { samples: [], types: {}, help: {} };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment) {
      (comment[1] === 'TYPE' ? exposition.types : exposition.help)[comment[2]] = comment[3];
      continue;
    }
    if (line.startsWith('#')) {
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) {
      throw new Error(`not a Prometheus sample line: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(LABEL)) {
      labels[label[1]] = label[2].replace(/\\(["\\n])/g, (_escape, char: string) => (char === 'n' ? '\n' : char));
    }
    exposition.samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return exposition;
}

/** The samples of `name` whose labels include every one of `labels`. */
export function findSamples(
  text: string | PrometheusExposition,
  name: string,
  labels: Record<string, string> = {},
): PrometheusSample[] {
  const exposition = typeof text === 'string' ? parsePrometheusText(text) : text;
  return exposition.samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/**
 * The value of the one sample of `name` matching `labels` (undefined when there is none);
 * throws when several match, so a test never reads the wrong series by accident.
 */
export function sampleValue(
  text: string | PrometheusExposition,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const samples = findSamples(text, name, labels);
  if (samples.length > 1) {
    throw new Error(`${samples.length} samples of ${name} match ${JSON.stringify(labels)}`);
  }
  return samples[0]?.value;
}
