import { createConnection } from 'mysql2/promise';
import { TEST_MYSQL_BASE_URL, uniqueSuffix } from './services';

export interface TestDatabase {
  name: string;
  /** DATABASE_URL of this database. */
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database of its own for one test file or run (`tl_<label>_<unique>`). */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `tl_${label.replace(/[^a-z0-9]/gi, '_')}_${uniqueSuffix()}`;
  const server = await createConnection(TEST_MYSQL_BASE_URL);
  try {
    await server.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await server.end();
  }
  return {
    name,
    url: `${TEST_MYSQL_BASE_URL.replace(/\/$/, '')}/${name}`,
    drop: async () => {
      const connection = await createConnection(TEST_MYSQL_BASE_URL);
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}
