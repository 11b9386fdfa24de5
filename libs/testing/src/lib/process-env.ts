/**
 * Sets environment variables for code that reads `process.env` (an app module under test) and
 * returns the function that puts back what was there before (deleting what was unset).
 */
export function setProcessEnv(env: Readonly<Record<string, string>>): () => void {
  const saved = new Map(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) {
        delete process.env[key];
      } else {
        process.env[key] = value;
      }
    }
  };
}
