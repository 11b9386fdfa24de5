import { DataSource } from 'typeorm';
import { TestDatabase, createTestDatabase } from '@tasklane/testing';
import { dataSourceOptions } from '../database/data-source.options';
import { migrateUp } from '../database/migrator';
import { TRACKER_REPLICAS_TABLE, TrackerReplicaRepository } from './tracker-replica.repository';

jest.setTimeout(30_000);

const LIVE_MS = 30_000;

describe('TrackerReplicaRepository (MariaDB)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let replicas: TrackerReplicaRepository;

  beforeAll(async () => {
    db = await createTestDatabase('replicas');
    await migrateUp(db.url);
    dataSource = new DataSource(dataSourceOptions({ url: db.url, poolSize: 2 }));
    await dataSource.initialize();
    replicas = new TrackerReplicaRepository(dataSource);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) {
      await dataSource.destroy();
    }
    await db?.drop();
  });

  beforeEach(async () => {
    await dataSource.query(`DELETE FROM ${TRACKER_REPLICAS_TABLE}`);
  });

  it('tells whether every live replica has written what it received up to an instant', async () => {
    const before = await replicas.now();
    await replicas.report('a', 0);
    // b still holds something it received 60 s ago.
    await replicas.report('b', 60_000);
    expect(await replicas.unsettledAt(before, LIVE_MS)).toBe(1);
    await replicas.report('b', 0);
    expect(await replicas.unsettledAt(before, LIVE_MS)).toBe(0);
    // Nothing reported after this instant yet: both are unsettled for it.
    const later = new Date((await replicas.now()).getTime() + 1_000);
    expect(await replicas.unsettledAt(later, LIVE_MS)).toBe(2);
  });

  it('ignores and prunes replicas that stopped renewing; a stopped replica removes itself', async () => {
    await replicas.report('alive', 0);
    await replicas.report('dead', 600_000);
    await dataSource.query(
      `UPDATE ${TRACKER_REPLICAS_TABLE} SET heartbeat_at = DATE_SUB(UTC_TIMESTAMP(3), INTERVAL 10 MINUTE)
        WHERE replica_id = 'dead'`,
    );
    const now = await replicas.now();
    expect(await replicas.unsettledAt(new Date(now.getTime() - 1_000), LIVE_MS)).toBe(0);
    expect(await replicas.prune(5 * 60_000)).toBe(1);
    await replicas.remove('alive');
    expect(await dataSource.query(`SELECT replica_id FROM ${TRACKER_REPLICAS_TABLE}`)).toEqual([]);
  });
});
