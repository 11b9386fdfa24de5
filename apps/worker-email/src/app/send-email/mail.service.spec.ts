import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmailDelivery } from '@tasklane/contracts';
import { loadConfig } from '@tasklane/config';
import { EmailWorkerEnv } from '../email-worker.env';
import { MailService } from './mail.service';

describe('MailService without SMTP_URL (outbox)', () => {
  let outbox: string;

  beforeEach(() => {
    outbox = mkdtempSync(join(tmpdir(), 'tasklane-outbox-'));
  });

  afterEach(() => {
    rmSync(outbox, { recursive: true, force: true });
  });

  it('writes the message as an .eml file named after the task and reports where', async () => {
    const env = loadConfig(EmailWorkerEnv, { MAIL_OUTBOX_DIR: outbox, MAIL_FROM: 'Ops <ops@example.com>' });
    const service = new MailService(env);
    const taskId = '01890a5d-ac96-774b-bcce-b302099a8057';

    const result = await service.send(
      { to: 'ada@example.com', subject: 'Weekly report', body: 'Attached.' },
      { taskId },
    );

    expect(result).toEqual({
      message_id: `<${taskId}@tasklane>`,
      delivery: EmailDelivery.Outbox,
      accepted: ['ada@example.com'],
      rejected: [],
      outbox_path: join(outbox, `${taskId}.eml`),
    });
    const eml = readFileSync(join(outbox, `${taskId}.eml`), 'utf8');
    expect(eml).toContain('From: Ops <ops@example.com>');
    expect(eml).toContain('To: ada@example.com');
    expect(eml).toContain('Subject: Weekly report');
    expect(eml).toContain(`Message-ID: <${taskId}@tasklane>`);
    expect(eml).toContain('Attached.');
  });

  it('uses the sender given by the task over MAIL_FROM', async () => {
    const service = new MailService(loadConfig(EmailWorkerEnv, { MAIL_OUTBOX_DIR: outbox }));
    const taskId = '01890a5d-ac96-774b-bcce-b302099a8058';
    await service.send({ to: 'ada@example.com', subject: 's', body: 'b', from: 'team@example.com' }, { taskId });
    expect(readFileSync(join(outbox, `${taskId}.eml`), 'utf8')).toContain('From: team@example.com');
  });
});
