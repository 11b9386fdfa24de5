import { useEffect, useState } from 'preact/hooks';

export interface Polled<T> {
  data: T | null;
  error: string | null;
}

/**
 * Calls `load` now and every `intervalMs` while the page is visible, keeping the last answer;
 * `deps` restart it (a new filter, a new page). Errors are shown, not thrown: the next poll may
 * succeed.
 */
export function usePoll<T>(
  load: () => Promise<T>,
  intervalMs: number,
  deps: unknown[],
): Polled<T> & { refresh: () => void } {
  const [state, setState] = useState<Polled<T>>({ data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.visibilityState === 'visible') {
        try {
          const data = await load();
          if (!stopped) {
            setState({ data, error: null });
          }
        } catch (error) {
          if (!stopped) {
            setState((previous) => ({ data: previous.data, error: (error as Error).message }));
          }
        }
      }
      if (!stopped) {
        timer = setTimeout(() => void run(), intervalMs);
      }
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, refresh: () => setTick((value) => value + 1) };
}
