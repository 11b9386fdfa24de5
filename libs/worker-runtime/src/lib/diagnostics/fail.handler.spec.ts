import { FailHandler } from './fail.handler';

describe('FailHandler', () => {
  it.each(['boom', 'a longer message: with details'])('rejects with params.message %p', async (message) => {
    await expect(new FailHandler().run({ message })).rejects.toThrow(new Error(message));
  });
});
