import { setProcessEnv } from './process-env';

describe('setProcessEnv', () => {
  it('sets the variables, then puts back the old values and deletes the new ones', () => {
    process.env['TL_TEST_SET_BEFORE'] = 'before';
    delete process.env['TL_TEST_UNSET_BEFORE'];
    const restore = setProcessEnv({ TL_TEST_SET_BEFORE: 'during', TL_TEST_UNSET_BEFORE: 'during' });
    expect([process.env['TL_TEST_SET_BEFORE'], process.env['TL_TEST_UNSET_BEFORE']]).toEqual(['during', 'during']);
    restore();
    expect(process.env['TL_TEST_SET_BEFORE']).toBe('before');
    expect('TL_TEST_UNSET_BEFORE' in process.env).toBe(false);
    delete process.env['TL_TEST_SET_BEFORE'];
  });
});
