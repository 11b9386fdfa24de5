import { TaskCountRepository } from '@tasklane/persistence';
import { TrackerEnv } from '../tracker.env';
import { CountFolderService } from './count-folder.service';

/** A repository whose journal holds `pending` changes, folded `limit` at a time. */
function journalOf(
  pending: number,
  onFold: () => void = () => undefined,
): { repository: TaskCountRepository; calls: number[] } {
  const calls: number[] = [];
  const repository = {
    foldCountChanges: (limit: number) => {
      const folded = Math.min(limit, pending);
      pending -= folded;
      calls.push(folded);
      onFold();
      return Promise.resolve(folded);
    },
  } as unknown as TaskCountRepository;
  return { repository, calls };
}

const env = { COUNT_FOLD_INTERVAL_MS: 60_000 } as TrackerEnv;

describe('CountFolderService', () => {
  it('folds batch after batch until the journal is empty', async () => {
    const { repository, calls } = journalOf(12_345);
    await expect(new CountFolderService(repository, env).fold()).resolves.toBe(12_345);
    expect(calls).toEqual([5_000, 5_000, 2_345]);
  });

  it('stops after the current batch once shutdown begins', async () => {
    const hooks = { onFold: (): void => undefined };
    const { repository, calls } = journalOf(1_000_000, () => hooks.onFold());
    const folder = new CountFolderService(repository, env);
    // Shutdown begins while the first batch is being folded.
    hooks.onFold = () => void folder.beforeApplicationShutdown();
    await expect(folder.fold()).resolves.toBe(5_000);
    expect(calls).toEqual([5_000]);
  });
});
