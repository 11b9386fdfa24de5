import { MysqlCommandSplitter, countsBetween, statementShape, totalOf } from './statement-proxy';
import { isPollStatement, isTaskRead } from './waiters';

/** A MySQL packet: 3-byte length, sequence id, payload. */
function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence;
  return Buffer.concat([header, payload]);
}

const query = (sql: string): Buffer => Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, 'utf8')]);

function commandsOf(chunks: Buffer[]): string[] {
  const seen: string[] = [];
  const splitter = new MysqlCommandSplitter((payload) => seen.push(statementShape(payload)));
  chunks.forEach((chunk) => splitter.push(chunk));
  return seen;
}

describe('MysqlCommandSplitter', () => {
  it('counts commands (sequence 0), not the handshake response or authentication packets', () => {
    const stream = Buffer.concat([
      packet(1, Buffer.alloc(80, 1)), // handshake response
      packet(3, Buffer.alloc(20, 2)), // auth switch response
      packet(0, query('SELECT 1')),
      packet(0, query('COMMIT')),
    ]);
    expect(commandsOf([stream])).toEqual(['SELECT ?', 'COMMIT']);
  });

  it('reads packets split anywhere across chunks, headers included', () => {
    const stream = Buffer.concat([packet(0, query('SELECT 1')), packet(0, query('START TRANSACTION'))]);
    for (let cut = 1; cut < stream.length; cut += 1) {
      expect(commandsOf([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(['SELECT ?', 'START TRANSACTION']);
    }
    expect(commandsOf([...stream].map((byte) => Buffer.from([byte])))).toEqual(['SELECT ?', 'START TRANSACTION']);
  });

  it('passes over the rest of a long statement and counts it once', () => {
    const ids = Array.from({ length: 1_000 }, (_, index) => `'0193-${String(index).padStart(4, '0')}'`).join(', ');
    const long = packet(0, query(`SELECT task_id, status FROM background_tasks WHERE task_id IN (${ids})`));
    const stream = Buffer.concat([long, packet(0, query('SELECT 2'))]);
    const chunks = [];
    for (let offset = 0; offset < stream.length; offset += 1_500) {
      chunks.push(stream.subarray(offset, offset + 1_500));
    }
    expect(commandsOf(chunks)).toEqual(['SELECT … FROM background_tasks WHERE task_id IN (…)', 'SELECT ?']);
  });
});

describe('statementShape', () => {
  it("gives the gateway's poll and its read of one task recognizable shapes", () => {
    const poll = statementShape(query("SELECT task_id, status FROM background_tasks WHERE task_id IN ('a', 'b')"));
    expect(isPollStatement(poll)).toBe(true);
    expect(isTaskRead(poll)).toBe(false);
    const read = statementShape(
      query(
        'SELECT `BackgroundTask`.`id` AS `BackgroundTask_id`, `BackgroundTask`.`task_id` AS `BackgroundTask_task_id` ' +
          "FROM `background_tasks` `BackgroundTask` WHERE ((`BackgroundTask`.`task_id` = '0193-1')) LIMIT 1",
      ),
    );
    expect(read).toBe(
      'SELECT … FROM `background_tasks` `BackgroundTask` WHERE ((`BackgroundTask`.`task_id` = ?)) LIMIT ?',
    );
    expect(isTaskRead(read)).toBe(true);
    expect(isPollStatement(read)).toBe(false);
  });

  it('names commands without text', () => {
    expect(statementShape(Buffer.from([0x0e]))).toBe('COM_PING');
    expect(statementShape(Buffer.from([0x17, 1, 0, 0, 0]))).toBe('COM_STMT_EXECUTE');
  });
});

describe('countsBetween', () => {
  it('keeps the shapes that grew, by how much', () => {
    const between = countsBetween({ a: 2, b: 5 }, { a: 4, b: 5, c: 1 });
    expect(between).toEqual({ a: 2, c: 1 });
    expect(totalOf(between)).toBe(3);
  });
});
